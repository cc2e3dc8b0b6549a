"""State-dict files: official DINOv2 `.pth` (facebookresearch/dinov2 names) and Hugging Face ones.

The official layout and its Hugging Face equivalent:
    cls_token, mask_token           -> embeddings.cls_token, embeddings.mask_token
    pos_embed                       -> embeddings.position_embeddings
    patch_embed.proj.*              -> embeddings.patch_embeddings.projection.*
    blocks.N.attn.qkv.* (q; k; v)   -> encoder.layer.N.attention.{q,k,v}_proj.*
    blocks.N.attn.proj.*            -> encoder.layer.N.attention.o_proj.*
    blocks.N.ls1.gamma, ls2.gamma   -> encoder.layer.N.layer_scale{1,2}.lambda1
    blocks.N.norm1/norm2/mlp.fc1/mlp.fc2.*  -> encoder.layer.N.(same).*
    norm.*                          -> layernorm.*
FSDP training checkpoints chunk the blocks as `blocks.C.N.*` (N stays the global index).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.checkpoint import TORCH_LOAD_ERRORS
from uncertainty_seg_node.model.weight_keys import canonical_hf_key, is_hf_backbone_key

_TOP = {
    "cls_token": "embeddings.cls_token",
    "mask_token": "embeddings.mask_token",
    "pos_embed": "embeddings.position_embeddings",
    "patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
    "patch_embed.proj.bias": "embeddings.patch_embeddings.projection.bias",
    "norm.weight": "layernorm.weight",
    "norm.bias": "layernorm.bias",
}
_BLOCK = {
    "norm1.weight": "norm1.weight",
    "norm1.bias": "norm1.bias",
    "attn.proj.weight": "attention.o_proj.weight",
    "attn.proj.bias": "attention.o_proj.bias",
    "ls1.gamma": "layer_scale1.lambda1",
    "norm2.weight": "norm2.weight",
    "norm2.bias": "norm2.bias",
    "mlp.fc1.weight": "mlp.fc1.weight",
    "mlp.fc1.bias": "mlp.fc1.bias",
    "mlp.fc2.weight": "mlp.fc2.weight",
    "mlp.fc2.bias": "mlp.fc2.bias",
    "ls2.gamma": "layer_scale2.lambda1",
}
_QKV = ("q_proj", "k_proj", "v_proj")
_CHUNKED_RE = re.compile(r"^blocks\.\d+\.(\d+)\.(.+)$")
_BLOCK_RE = re.compile(r"^blocks\.(\d+)\.(.+)$")
_HF_BLOCK_RE = re.compile(r"^encoder\.layer\.(\d+)\.(.+)$")
_WRAPPERS = ("model", "state_dict", "teacher", "module", "model_state_dict")


def read_state_dict_file(path: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """A `.pth`/`.pt`/`.bin`/`.safetensors` file -> (canonical Dinov2 state dict, info)."""
    raw = load_tensor_file(path)
    flat = unwrap_state_dict(raw, path)
    layout, state, skipped = split_layout(flat, path)
    if layout == "dinov2":
        state, more = dinov2_to_hf(state, path)
        skipped += more
        return state, {"layout": "dinov2", "skipped": skipped}
    return {canonical_hf_key(k): v for k, v in state.items()}, {"layout": "hf", "skipped": skipped}


def load_tensor_file(path: Path) -> Any:
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise UserError(f"{path} is corrupt or not a safetensors file ({exc})") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass  # holds Python objects besides tensors (e.g. a training checkpoint): retry below
    except TORCH_LOAD_ERRORS as exc:
        raise UserError(
            f"{path} is corrupt or not a PyTorch state dict ({type(exc).__name__}); re-download "
            "it or pass a DINOv2 .pth, a Hugging Face folder or an ONNX file"
        ) from None
    try:
        # The user's own file (e.g. a training checkpoint with optimizer state), as torch.load
        # has always allowed; refuse clearly when it does not unpickle.
        return torch.load(path, map_location="cpu", weights_only=False)
    except TORCH_LOAD_ERRORS as exc:
        raise UserError(f"{path} is corrupt or not a state dict ({type(exc).__name__})") from None


def unwrap_state_dict(obj: Any, path: Path) -> dict[str, Tensor]:
    """The dict of tensors inside `obj`, looking into `model`/`state_dict`/`teacher` wrappers."""
    for _ in range(4):
        if not isinstance(obj, dict):
            break
        tensors = {k: v for k, v in obj.items() if isinstance(k, str) and torch.is_tensor(v)}
        if any(k.endswith("cls_token") for k in tensors):
            return tensors
        inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            return tensors
        obj = inner
    raise UserError(
        f"{path} is not a state dict (it holds a {type(obj).__name__}); pass the weights of a "
        "DINOv2 ViT (.pth), a Hugging Face Dinov2Model folder or an ONNX file"
    )


def split_layout(state: dict[str, Tensor], path: Path) -> tuple[str, dict[str, Tensor], list[str]]:
    """Find the ViT inside `state`: its layout ("dinov2" or "hf"), its tensors, the rest."""
    prefixes: dict[str, str] = {}
    for key in state:
        if key.endswith("embeddings.cls_token"):
            prefixes[key[: -len("embeddings.cls_token")]] = "hf"
        elif key.endswith("cls_token"):
            prefixes[key[: -len("cls_token")]] = "dinov2"
    if not prefixes:
        sample = sorted(state)[:4]
        raise UserError(
            f"{path} has no cls_token, so it is not a DINOv2 ViT state dict (keys like {sample}); "
            "pass the backbone weights of a DINOv2 ViT"
        )
    if len(prefixes) > 1:
        teachers = [p for p in prefixes if "teacher" in p]
        if len(teachers) != 1:
            raise UserError(
                f"{path} holds several ViTs (prefixes {sorted(prefixes)}); extract one"
            )
        prefixes = {teachers[0]: prefixes[teachers[0]]}
    prefix, layout = next(iter(prefixes.items()))
    inner = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    skipped = sorted(k for k in state if not k.startswith(prefix))
    if layout == "hf":
        skipped += sorted(prefix + k for k in inner if not is_hf_backbone_key(k))
        inner = {k: v for k, v in inner.items() if is_hf_backbone_key(k)}
    return layout, inner, skipped


def dinov2_to_hf(state: dict[str, Tensor], path: Path) -> tuple[dict[str, Tensor], list[str]]:
    """Official DINOv2 names -> canonical Hugging Face names (qkv split into q, k, v)."""
    if "register_tokens" in state:
        count = int(state["register_tokens"].shape[1])
        raise UserError(
            f"{path} is a DINOv2 with {count} register tokens (dinov2_*_reg); this encoder has no "
            "registers: use the plain DINOv2 weights (e.g. dinov2_vits14_pretrain.pth)"
        )
    if any(".mlp.w12." in k or ".mlp.w3." in k for k in state):
        raise UserError(f"{path} uses a SwiGLU MLP (ViT-g/14), which this encoder does not have")
    out: dict[str, Tensor] = {}
    skipped: list[str] = []
    for key, value in state.items():
        if key in _TOP:
            out[_TOP[key]] = value
            continue
        match = _CHUNKED_RE.match(key) or _BLOCK_RE.match(key)
        if match is None:
            skipped.append(key)
            continue
        index, rest = int(match.group(1)), match.group(2)
        prefix = f"encoder.layer.{index}."
        if rest in ("attn.qkv.weight", "attn.qkv.bias"):
            kind = rest.rsplit(".", 1)[1]
            for name, part in zip(_QKV, value.chunk(3, dim=0)):
                out[f"{prefix}attention.{name}.{kind}"] = part.clone()
        elif rest in _BLOCK:
            out[prefix + _BLOCK[rest]] = value
        else:
            skipped.append(key)
    return out, skipped


def to_official_state_dict(hf_state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Hugging Face `Dinov2Model` state dict -> facebookresearch/dinov2 names (the inverse)."""
    top = {hf: official for official, hf in _TOP.items()}
    block = {hf: official for official, hf in _BLOCK.items()}
    state = {canonical_hf_key(k): v for k, v in hf_state.items()}
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if key in top:
            out[top[key]] = value.clone()
            continue
        match = _HF_BLOCK_RE.match(key)
        if match is None:
            raise ValueError(f"not a Dinov2Model parameter: {key}")
        index, rest = int(match.group(1)), match.group(2)
        if rest.startswith("attention.q_proj."):
            kind = rest.rsplit(".", 1)[1]
            parts = [state[f"encoder.layer.{index}.attention.{n}.{kind}"] for n in _QKV]
            out[f"blocks.{index}.attn.qkv.{kind}"] = torch.cat(parts, dim=0).clone()
        elif rest.startswith(("attention.k_proj.", "attention.v_proj.")):
            continue
        elif rest in block:
            out[f"blocks.{index}.{block[rest]}"] = value.clone()
        else:
            raise ValueError(f"no official DINOv2 name for {key}")
    return out
