"""An exported fp32 ONNX model -> mixed-precision fp16 ONNX, for strongly typed TensorRT builds.

TensorRT 10.12 deprecates the weak-typing builder flags (`BuilderFlag.FP16` and the precision
constraints) and 11 removes them: precision must be in the graph. So an fp16 engine is built from
an ONNX graph whose tensors are already fp16, except the numerically fragile nodes
(`wants_fp32` below: LayerNorm, softmax, decomposed norms and the post-processing),
which stay fp32 with Cast nodes around them. The uint8 input and the fp32 outputs keep their
types, so the graph's interface is unchanged. ONNX Runtime runs the result too, which is how it is
tested without a GPU.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.errors import UserError

FP32_LAYER_TYPES = ("NORMALIZATION", "SOFTMAX")
# ONNX op -> the TensorRT layer type `wants_fp32` speaks of.
_LAYER_TYPE = {"LayerNormalization": "NORMALIZATION", "GroupNormalization": "NORMALIZATION",
               "InstanceNormalization": "NORMALIZATION", "Softmax": "SOFTMAX"}
INSTALL_HINT = "install it with `pip install onnxconverter-common` (part of the tensorrt extra)"


def wants_fp32(layer_name: str, layer_type: str) -> bool:
    """Whether a layer is pinned to fp32 in an fp16 engine.

    LayerNorm / GroupNorm (NORMALIZATION) and softmax layers, layers of a decomposed norm
    (their ONNX names carry the module name `norm`), and the post-processing at the graph's top
    level (names without the `/segmenter/` module prefix: normalisation, confidence, argmax).
    """
    if layer_type in FP32_LAYER_TYPES:
        return True
    lowered = layer_name.lower()
    if "/segmenter/" not in lowered:
        return True
    return any(part.startswith("norm") or part.endswith("norm") or part == "layernorm"
               for part in lowered.split("/"))


def fp32_node_names(model: object) -> list[str]:
    """Names of the nodes of an ONNX model that stay fp32 in the mixed-precision graph."""
    return [node.name for node in model.graph.node  # type: ignore[attr-defined]
            if wants_fp32(node.name, _LAYER_TYPE.get(node.op_type, node.op_type.upper()))]


def write_mixed_fp16(onnx_path: str | Path, out_path: str | Path) -> Path:
    """Write the mixed-precision fp16 version of `onnx_path` to `out_path` (atomically)."""
    import onnx

    try:
        from onnxconverter_common import float16
    except ImportError as exc:
        raise UserError(f"fp16 TensorRT engines need onnxconverter-common ({exc}); "
                        f"{INSTALL_HINT}") from None
    model = onnx.load(str(onnx_path))
    blocked = fp32_node_names(model)
    _split_shared_initializers(model, set(blocked))
    with warnings.catch_warnings():  # tiny weights rounding to fp16's smallest normal
        warnings.simplefilter("ignore", UserWarning)
        converted = float16.convert_float_to_float16(
            model, keep_io_types=True, node_block_list=blocked,
            op_block_list=[*float16.DEFAULT_OP_BLOCK_LIST, *_LAYER_TYPE],
        )
    _retarget_casts(converted)
    _restore_output_types(converted, {o.name: o.type.tensor_type.elem_type
                                      for o in onnx.load(str(onnx_path)).graph.output})
    out_path = Path(out_path)
    atomic_write(out_path, converted.SerializeToString())
    return out_path


def _retarget_casts(model: object) -> int:
    """Casts to fp32 whose output the converter retyped to fp16 now cast to fp16; a count.

    The converter rewrites value types but leaves a `Cast(to=FLOAT)` inside an fp16 region (the
    patch embedding's cast of the normalised image) as it was, which no runtime accepts.
    """
    import onnx

    graph = model.graph  # type: ignore[attr-defined]
    types = {info.name: info.type.tensor_type.elem_type
             for info in [*graph.value_info, *graph.output]}
    fixed = 0
    for node in graph.node:
        if node.op_type != "Cast" or types.get(node.output[0]) != onnx.TensorProto.FLOAT16:
            continue
        for attribute in node.attribute:
            if attribute.name == "to" and attribute.i == onnx.TensorProto.FLOAT:
                attribute.i = onnx.TensorProto.FLOAT16
                fixed += 1
    return fixed


def _split_shared_initializers(model: object, fp32_nodes: set[str]) -> int:
    """Give fp32 nodes their own copy of initializers they share with fp16 nodes; a count.

    The exporter merges equal initializers (a zero bias of a convolution and of a LayerNorm),
    and the converter keeps a shared one fp32 for both consumers, which breaks the fp16 one.
    """
    graph = model.graph  # type: ignore[attr-defined]
    initializers = {init.name: init for init in graph.initializer}
    users: dict[str, list[object]] = {}
    for node in graph.node:
        for name in node.input:
            if name in initializers:
                users.setdefault(name, []).append(node)
    split = 0
    for name, nodes in users.items():
        kinds = {node.name in fp32_nodes for node in nodes}  # type: ignore[attr-defined]
        if kinds != {True, False}:
            continue
        copy = graph.initializer.add()
        copy.CopyFrom(initializers[name])
        copy.name = f"{name}__fp32"
        for node in nodes:
            if node.name in fp32_nodes:  # type: ignore[attr-defined]
                node.input[:] = [copy.name if i == name else i  # type: ignore[attr-defined]
                                 for i in node.input]  # type: ignore[attr-defined]
        split += 1
    return split


def _restore_output_types(model: object, original: dict[str, int]) -> int:
    """Cast every graph output the converter turned to fp16 back to its original fp32."""
    import onnx

    graph = model.graph  # type: ignore[attr-defined]
    restored = 0
    for output in graph.output:
        was = original.get(output.name)
        if was != onnx.TensorProto.FLOAT or output.type.tensor_type.elem_type == was:
            continue
        inner = f"{output.name}__fp16"
        for node in graph.node:
            node.output[:] = [inner if o == output.name else o for o in node.output]
            node.input[:] = [inner if i == output.name else i for i in node.input]
        graph.node.append(onnx.helper.make_node("Cast", [inner], [output.name],
                                                name=f"/{output.name}_to_fp32", to=was))
        output.type.tensor_type.elem_type = was
        restored += 1
    return restored
