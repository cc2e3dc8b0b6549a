from __future__ import annotations

import pytest
import torch

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model import build_segmenter


@pytest.mark.parametrize("size", [(56, 112), (70, 42)])
def test_tiny_forward_shapes_and_finite(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = build_segmenter(model_config_for("tiny", input_size=size)).eval()
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (2, 19, *size)
    assert torch.isfinite(logits).all()


def test_patch_mask_changes_output_only_through_masked_input() -> None:
    torch.manual_seed(0)
    model = build_segmenter(model_config_for("tiny", input_size=(56, 112))).eval()
    x = torch.randn(1, 3, 56, 112)
    none = torch.zeros(1, 4 * 8, dtype=torch.bool)
    every = torch.ones(1, 4 * 8, dtype=torch.bool)
    with torch.no_grad():
        plain = model(x)
        unmasked = model(x, none)
        masked = model(x, every)
        # With every patch masked the network cannot see the image at all.
        masked_other = model(torch.randn(1, 3, 56, 112), every)
    torch.testing.assert_close(plain, unmasked)
    assert (plain - masked).abs().max() > 1e-3
    torch.testing.assert_close(masked, masked_other)


def test_random_patch_mask_rate() -> None:
    model = build_segmenter(model_config_for("tiny", input_size=(56, 112)))
    gen = torch.Generator().manual_seed(1)
    mask = model.random_patch_mask(torch.zeros(64, 3, 56, 112), 0.5, generator=gen)
    assert mask.shape == (64, 32) and mask.dtype == torch.bool
    assert 0.45 < mask.float().mean().item() < 0.55


def test_input_size_must_be_patch_multiple() -> None:
    with pytest.raises(UserError, match="multiples of the patch size"):
        model_config_for("tiny", input_size=(50, 112))


def test_unknown_arch() -> None:
    with pytest.raises(UserError, match="unknown model"):
        model_config_for("resnet")
