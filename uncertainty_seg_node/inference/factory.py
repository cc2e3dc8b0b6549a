"""`load_predictor`: the one way the node, the replay, the evaluation and the bench get a model.

The backend follows the file type unless named: checkpoints (.pt/.pth/.ckpt) run in PyTorch,
.onnx files in ONNX Runtime (or TensorRT, built and cached, with backend='tensorrt'),
.engine/.plan files in TensorRT. A delta file (.delta.safetensors: what training changed over a
pretrained backbone) is first assembled into a cached ONNX file (export/assemble.py), or, with
backend='torch', built as the PyTorch network.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.inference.pipeline import PipelinePredictor
from uncertainty_seg_node.model.artifact import check_model_file, find_checkpoint_for, model_kind
from uncertainty_seg_node.runtime import normalize_backend


def load_predictor(
    path: str | Path | Sequence[str | Path],
    backend: str = "auto",
    device: str = "cpu",
    score_method: str | None = None,
    **options: Any,
) -> PipelinePredictor:
    """A Predictor for a model file (or a list of checkpoints: a deep ensemble).

    `options` go to the backend: torch: precision, compile, mc_dropout, mc_dropout_p,
    temperature, energy_sigma, input_size; onnxruntime: threads, io_binding; tensorrt: rebuild,
    precision.
    """
    backend = normalize_backend(backend)
    if not isinstance(path, (str, Path)):
        paths = [Path(p) for p in path]
        if len(paths) == 1:
            return load_predictor(paths[0], backend, device, score_method, **options)
        for member in paths:
            check_model_file(member)
            if model_kind(member) != "checkpoint" or backend not in ("auto", "torch"):
                raise UserError(f"an ensemble needs checkpoints and the torch backend ({member})")
        from uncertainty_seg_node.inference.torch_backend import TorchPredictor

        return TorchPredictor.from_checkpoint(paths, device=device, score_method=score_method,
                                              **options)
    path = Path(path)
    kind = model_kind(path)
    check_model_file(path)
    if kind == "delta" and backend == "torch":  # the network itself, e.g. for its logits
        from uncertainty_seg_node.export.assemble import build_segmenter_from_delta
        from uncertainty_seg_node.inference.torch_backend import TorchPredictor

        return TorchPredictor(build_segmenter_from_delta(path), device=device,
                              score_method=score_method, **options)
    if kind == "delta":
        from uncertainty_seg_node.export.assemble import assemble_onnx

        path, kind = assemble_onnx(path), "onnx"
    if backend == "auto":
        backend = {"checkpoint": "torch", "onnx": "onnxruntime", "engine": "tensorrt"}[kind]
    if backend == "torch":
        if kind != "checkpoint":
            source = find_checkpoint_for(path) if kind == "onnx" else None
            if source is None:
                raise UserError(f"the torch backend needs a checkpoint, not {path}; pass the "
                                ".pt file the model was exported from")
            path = source
        from uncertainty_seg_node.inference.torch_backend import TorchPredictor

        return TorchPredictor.from_checkpoint(path, device=device, score_method=score_method,
                                              **options)
    if backend == "onnxruntime":
        if kind != "onnx":
            raise UserError(f"ONNX Runtime needs an .onnx file, not {path}; make one with "
                            f"`uncertainty-seg export --checkpoint CKPT --onnx OUT.onnx`")
        from uncertainty_seg_node.inference.ort_backend import OrtPredictor

        return OrtPredictor(path, device=device, score_method=score_method, **options)
    if kind == "checkpoint":
        raise UserError(f"TensorRT needs an .onnx or engine file, not {path}; export first with "
                        "`uncertainty-seg export --checkpoint CKPT --onnx OUT.onnx`")
    from uncertainty_seg_node.inference.trt_backend import TensorRTPredictor

    if device == "cpu":
        device = "cuda"
    return TensorRTPredictor(path, device=device, score_method=score_method, **options)
