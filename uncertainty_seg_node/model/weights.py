"""Pretrained encoder weights (`--init`): DINOv2 `.pth`, Hugging Face folders, ONNX backbones.

Every source is first turned into one canonical form, a state dict of the Hugging Face
`Dinov2Model` with this transformers' parameter names and no prefix; `load_hf_state_dict` then
checks it against the Segmenter's encoder and copies it in. The readers live beside this file
and share the key helpers of `weight_keys.py`: `weights_pth.py` (official DINOv2 and Hugging
Face state-dict files), `weights_hf.py` (`save_pretrained` folders) and `weights_onnx.py` (a ViT
backbone inside an ONNX graph).

Load the weights before building an optimizer: a position-embedding grid that differs from the
model's is adopted by replacing that parameter (and `config.num_pos_patches`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model import weights_hf, weights_onnx, weights_pth
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.model.weight_keys import (
    canonical_hf_key,
    describe_vit,
    suggest_model,
    to_model_naming,
)

# Tensors a source may lack: the mask token is unused at inference, so ONNX exports drop it.
OPTIONAL_KEYS = ("embeddings.mask_token",)
_POS_KEY = "embeddings.position_embeddings"
_LAYER_RE = re.compile(r"^encoder\.layer\.(\d+)\.")


def source_shape(state: dict[str, Tensor]) -> tuple[int, int, int]:
    """(hidden size, number of blocks, patch size) of a canonical Dinov2 state dict."""
    weight = state.get("embeddings.patch_embeddings.projection.weight")
    if weight is None or weight.ndim != 4:
        raise UserError("no patch embedding (embeddings.patch_embeddings.projection.weight)")
    layers = {int(m.group(1)) for k in state if (m := _LAYER_RE.match(k))}
    return int(weight.shape[0]), (max(layers) + 1 if layers else 0), int(weight.shape[-1])


def load_hf_state_dict(model: Segmenter, state: dict[str, Tensor], *, what: str) -> dict[str, Any]:
    """Copy a canonical Dinov2 state dict into `model.encoder.vit`, refusing any mismatch.

    `what` names the source in messages ("this ONNX backbone", "this state dict").
    Returns {"loaded", "missing", "skipped", "pos_grid"}.
    """
    config = model.config
    hidden, layers, patch = source_shape(state)
    if (hidden, layers) != (config.hidden_size, config.num_layers):
        raise UserError(
            f"{what} is a {describe_vit(hidden, layers)} but --model {config.arch} is a "
            f"{describe_vit(config.hidden_size, config.num_layers)}; "
            f"{suggest_model(hidden, layers)}"
        )
    if patch != config.patch_size:
        raise UserError(
            f"{what} has {patch}-pixel patches but the encoder uses {config.patch_size}; "
            "only patch-14 DINOv2 weights fit"
        )
    vit = model.encoder.vit
    grid = _source_grid(state, config.hidden_size, what)
    target = vit.state_dict()
    rename = to_model_naming(target)
    incoming = {rename(canonical_hf_key(k)): v for k, v in state.items()}
    skipped = sorted(k for k in incoming if k not in target)
    missing = sorted(k for k in target if k not in incoming)
    required = [k for k in missing if k not in OPTIONAL_KEYS]
    if required:
        raise UserError(
            f"{what} lacks {len(required)} encoder tensor(s), e.g. {required[:3]}; "
            "the file is incomplete or not a DINOv2 ViT"
        )
    for key, value in incoming.items():
        if key == _POS_KEY or key not in target:
            continue
        if tuple(value.shape) != tuple(target[key].shape):
            raise UserError(
                f"{what}: tensor {key} has shape {tuple(value.shape)} but the encoder needs "
                f"{tuple(target[key].shape)}; the weights do not fit --model {config.arch}"
            )
    # Everything checked: only now change the model.
    pos_grid = [config.num_pos_patches, grid]
    _keep_position_grid(model, grid)
    params: dict[str, Tensor] = dict(vit.named_parameters())
    params.update(dict(vit.named_buffers()))
    with torch.no_grad():
        for key, value in incoming.items():
            if key in params:
                params[key].copy_(value.to(params[key].dtype))
    loaded = len(incoming) - len(skipped)
    return {"loaded": loaded, "missing": missing, "skipped": skipped, "pos_grid": pos_grid}


def _source_grid(state: dict[str, Tensor], hidden_size: int, what: str) -> int:
    """Side of the source's square position-embedding grid (37 for DINOv2's 518 / 14)."""
    pos = state.get(_POS_KEY)
    if pos is None:
        raise UserError(f"{what} has no position embedding ({_POS_KEY})")
    if pos.ndim != 3 or pos.shape[0] != 1 or pos.shape[2] != hidden_size:
        raise UserError(
            f"{what}: position embedding has shape {tuple(pos.shape)}, expected "
            f"(1, 1 + grid*grid, {hidden_size})"
        )
    positions = int(pos.shape[1]) - 1
    grid = math.isqrt(max(positions, 0))
    if grid * grid != positions or grid == 0:
        raise UserError(
            f"{what}: position embedding has {positions} patch positions, not a square grid"
        )
    return grid


def _keep_position_grid(model: Segmenter, grid: int) -> None:
    """Give the encoder a `grid` x `grid` position embedding and record it in the config.

    The encoder interpolates position embeddings to the input size at run time, so a 37x37
    grid and a 16x16 grid both work; keeping the source's grid keeps its weights exact.
    """
    embeddings = model.encoder.vit.embeddings
    current = embeddings.position_embeddings
    shape = (1, 1 + grid * grid, int(current.shape[2]))
    if tuple(current.shape) != shape:
        embeddings.position_embeddings = nn.Parameter(
            torch.zeros(shape, dtype=current.dtype, device=current.device),
            requires_grad=current.requires_grad,
        )
        model.config.num_pos_patches = grid
        model.encoder.vit.config.image_size = grid * model.config.patch_size


def detect_format(path: Path) -> str:
    """`hf_folder`, `onnx`, `safetensors` or `torch` (a `torch.save` file such as a `.pth`)."""
    if path.is_dir():
        return "hf_folder"
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".safetensors":
        return "safetensors"
    return "torch"


def load_encoder_weights(
    model: Segmenter, source: str | Path, *, verify: bool = True
) -> dict[str, Any]:
    """Initialise the encoder from pretrained weights; returns a report of what was loaded.

    `source` is an official DINOv2 state dict (`.pth`, also inside `model`/`teacher` wrappers
    and the FSDP `blocks.0.N` layout), a Hugging Face state dict file, a `Dinov2Model` folder
    (config.json + model.safetensors or pytorch_model.bin), or an ONNX file holding a
    DINOv2-layout ViT backbone. For ONNX, `verify` runs the graph's backbone output against the
    loaded encoder and refuses a difference above 1e-4.

    Report keys: format, layout, source, loaded (tensor count), missing (kept at their
    initial value, e.g. the mask token an ONNX export dropped), skipped (source tensors that
    are not encoder weights), pos_grid ([before, after]), and parity_max_abs_diff for ONNX.
    The report's summary is also recorded in `model.config.provenance["encoder_init"]`.
    """
    path = Path(source)
    if not path.exists():
        raise UserError(
            f"encoder weights {path} do not exist; pass a DINOv2 .pth, a Hugging Face "
            "Dinov2Model folder or an ONNX file with a DINOv2 backbone to --init"
        )
    fmt = detect_format(path)
    if fmt == "hf_folder":
        state, info = weights_hf.read_hf_folder(path, model.config)
    elif fmt == "onnx":
        state, info = weights_onnx.read_onnx_backbone(path)
    else:
        state, info = weights_pth.read_state_dict_file(path)
    report: dict[str, Any] = {"format": fmt, "source": str(path), **info}
    loaded = load_hf_state_dict(model, state, what=f"{path.name}")
    report["skipped"] = sorted(set(info.get("skipped", [])) | set(loaded.pop("skipped")))
    report.update(loaded)
    if fmt == "onnx" and verify:
        parity = weights_onnx.onnx_backbone_parity(model, path)
        report["parity_max_abs_diff"] = parity["max_abs_diff"]
        if parity["max_abs_diff"] > weights_onnx.PARITY_TOLERANCE:
            raise UserError(
                f"{path.name}: the loaded encoder differs from the ONNX backbone by "
                f"{parity['max_abs_diff']:.2e} (> {weights_onnx.PARITY_TOLERANCE}); this graph "
                "is not a standard Hugging Face Dinov2 backbone"
            )
    model.config.provenance["encoder_init"] = {
        k: report[k]
        for k in ("format", "layout", "source", "loaded", "missing", "parity_max_abs_diff")
        if k in report
    }
    return report
