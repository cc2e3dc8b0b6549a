"""Names and sizes of Hugging Face Dinov2 weights, shared by every weight reader.

`weights.py` (the dispatcher) and the readers `weights_pth.py`, `weights_hf.py` and
`weights_onnx.py` all import from here, so none of them imports another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from uncertainty_seg_node.config import ENCODER_SIZES

# Older transformers (and every file on the Hub) name the attention projections like this;
# transformers >= 5 renames them when loading. Both spellings are accepted.
LEGACY_RENAMES = (
    ("attention.attention.query.", "attention.q_proj."),
    ("attention.attention.key.", "attention.k_proj."),
    ("attention.attention.value.", "attention.v_proj."),
    ("attention.output.dense.", "attention.o_proj."),
)
_VIT_NAMES = {384: "ViT-S/14", 768: "ViT-B/14", 1024: "ViT-L/14", 1536: "ViT-g/14"}


def canonical_hf_key(key: str) -> str:
    """A Hugging Face Dinov2 parameter name in the current spelling (q_proj, o_proj, ...)."""
    for old, new in LEGACY_RENAMES:
        key = key.replace(old, new)
    return key


def is_hf_backbone_key(key: str) -> bool:
    """Whether `key` (prefix stripped) names a Dinov2Model parameter."""
    return key.startswith(("embeddings.", "encoder.layer.", "layernorm."))


def describe_vit(hidden_size: int, num_layers: int) -> str:
    """`ViT-B/14 (768-d, 12 blocks)`, or `ViT (96-d, 4 blocks)` for a non-DINOv2 size."""
    name = _VIT_NAMES.get(hidden_size, "ViT")
    return f"{name} ({hidden_size}-d, {num_layers} blocks)"


def suggest_model(hidden_size: int, num_layers: int, num_heads: int | None = None) -> str:
    """What to tell a user whose weights have this size: the `--model` that fits, if any."""
    for arch, sizes in ENCODER_SIZES.items():
        fits = sizes["hidden_size"] == hidden_size and sizes["num_layers"] == num_layers
        if fits and (num_heads is None or sizes["num_heads"] == num_heads):
            return f"use --model {arch}"
    known = ", ".join(
        f"{arch} ({s['hidden_size']}-d, {s['num_layers']} blocks)"
        for arch, s in ENCODER_SIZES.items()
    )
    return f"no --model has this size; supported are {known}"


def to_model_naming(target: Mapping[str, object]) -> Callable[[str], str]:
    """Map canonical names to the spelling the installed transformers uses."""
    if any(".attention.q_proj." in k for k in target):
        return lambda key: key

    def legacy(key: str) -> str:
        for old, new in LEGACY_RENAMES:
            key = key.replace(new, old)
        return key

    return legacy
