"""ONNX Runtime int8 dynamic quantisation of an exported model.

`quantize_dynamic` stores the MatMul/Gemm weights of the ViT (and the decoder's) as int8 and
quantises activations per call, which is what a CPU without a GPU can speed up. Whether the
result may ship is measured by `inference/quantize_check.py`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.model.artifact import QUANTIZED_KEY

QUANTIZED_OPS = ("MatMul", "Gemm")


def quantize_onnx(source: str | Path, out: str | Path) -> Path:
    """int8 weights for MatMul/Gemm (per channel), the rest as exported; metadata kept."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, out = Path(source), Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "quantized.onnx"
        quantize_dynamic(str(source), str(raw), op_types_to_quantize=list(QUANTIZED_OPS),
                         per_channel=True, weight_type=QuantType.QInt8)
        model = onnx.load(str(raw))
    original = onnx.load(str(source), load_external_data=False)
    del model.metadata_props[:]
    model.metadata_props.extend(original.metadata_props)
    entry = model.metadata_props.add()
    entry.key, entry.value = QUANTIZED_KEY, "int8 dynamic (MatMul, Gemm)"
    atomic_write(out, model.SerializeToString())
    return out
