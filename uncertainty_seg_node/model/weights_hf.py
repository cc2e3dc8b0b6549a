"""Hugging Face `Dinov2Model` folders (`save_pretrained` output: config.json + weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.jsonfile import read_json_object
from uncertainty_seg_node.model.weight_keys import canonical_hf_key, describe_vit, suggest_model
from uncertainty_seg_node.model.weights_pth import (
    load_tensor_file,
    split_layout,
    unwrap_state_dict,
)

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def read_hf_folder(path: Path, config: ModelConfig) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Check the folder's config.json against `config`, then read its (sharded) weights."""
    check_hf_config(path, config)
    files = _weight_files(path)
    merged: dict[str, Tensor] = {}
    for file in files:
        merged.update(unwrap_state_dict(load_tensor_file(file), file))
    layout, state, skipped = split_layout(merged, path)
    if layout != "hf":
        raise UserError(f"{path} holds official DINOv2 names; pass its .pth file instead")
    state = {canonical_hf_key(k): v for k, v in state.items()}
    return state, {"layout": "hf", "skipped": skipped, "files": [f.name for f in files]}


def check_hf_config(path: Path, config: ModelConfig) -> dict[str, Any]:
    """Refuse a folder whose architecture differs from `config`, naming the `--model` to use."""
    hf = read_json_object(
        path / "config.json", fix="save the folder again with Dinov2Model.save_pretrained",
        missing=f"{path} is a folder without config.json, so not a Hugging Face model folder; "
        "save one with Dinov2Model.save_pretrained or pass a .pth / .onnx file",
    )
    model_type = hf.get("model_type")
    if model_type == "dinov2_with_registers":
        raise UserError(
            f"{path} is a DINOv2 with register tokens; this encoder has none: use a plain "
            "DINOv2 (facebook/dinov2-small or -base)"
        )
    if model_type != "dinov2":
        raise UserError(f"{path} holds a {model_type!r} model, not a DINOv2 ViT (dinov2)")
    hidden = int(hf.get("hidden_size", -1))
    layers = int(hf.get("num_hidden_layers", -1))
    heads = int(hf.get("num_attention_heads", -1))
    if (hidden, layers, heads) != (config.hidden_size, config.num_layers, config.num_heads):
        raise UserError(
            f"{path} is a {describe_vit(hidden, layers)} with {heads} heads but --model "
            f"{config.arch} is a {describe_vit(config.hidden_size, config.num_layers)} with "
            f"{config.num_heads} heads; {suggest_model(hidden, layers, heads)}"
        )
    patch = int(hf.get("patch_size", -1))
    if patch != config.patch_size:
        raise UserError(f"{path} uses {patch}-pixel patches; the encoder uses {config.patch_size}")
    if hf.get("use_swiglu_ffn") or float(hf.get("mlp_ratio", 4)) != 4:
        raise UserError(f"{path} has a non-standard MLP (SwiGLU or mlp_ratio != 4); not supported")
    if hf.get("hidden_act", "gelu") != "gelu" or float(hf.get("layer_norm_eps", 1e-6)) != 1e-6:
        raise UserError(f"{path}: activation or LayerNorm eps differ from DINOv2's (gelu, 1e-6)")
    return hf


def _weight_files(path: Path) -> list[Path]:
    for name in _WEIGHT_FILES:
        index = path / f"{name}.index.json"
        if index.is_file():
            fix = "re-download the folder"
            weight_map = read_json_object(index, missing=f"{index} vanished", fix=fix).get(
                "weight_map")
            if not isinstance(weight_map, dict):
                raise UserError(f"{index} is not a valid shard index (no weight_map); {fix}")
            shards = [path / shard for shard in sorted(set(weight_map.values()))]
            absent = [s.name for s in shards if not s.is_file()]
            if absent:
                raise UserError(f"{path} misses weight shard(s) {absent}; re-download the folder")
            return shards
        if (path / name).is_file():
            return [path / name]
    raise UserError(
        f"{path} has a config.json but no weights ({' or '.join(_WEIGHT_FILES)}); "
        "re-download or re-save the folder"
    )
