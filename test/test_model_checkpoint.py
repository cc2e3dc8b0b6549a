from __future__ import annotations

from pathlib import Path

import pytest
import torch

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model import build_segmenter
from uncertainty_seg_node.model.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip_restores_config_and_weights(tmp_path: Path) -> None:
    config = model_config_for(
        "tiny", input_size=(56, 84), default_gamma=0.73, provenance={"steps": 3}
    )
    model = build_segmenter(config)
    path = save_checkpoint(tmp_path / "m.pt", model, {"step": 3})
    ckpt = load_checkpoint(path)
    assert ckpt.config == config
    assert ckpt.train_state["step"] == 3
    for (name, a), (_, b) in zip(model.state_dict().items(), ckpt.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_missing_and_corrupt_checkpoints_give_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(UserError, match="corrupt"):
        load_checkpoint(bad)
    model = build_segmenter(model_config_for("tiny", input_size=(56, 84)))
    good = save_checkpoint(tmp_path / "good.pt", model)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(UserError, match="corrupt"):
        load_checkpoint(truncated)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(UserError, match="not an uncertainty_seg_node checkpoint"):
        load_checkpoint(other)
