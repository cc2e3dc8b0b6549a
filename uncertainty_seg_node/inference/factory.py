"""`load_predictor`: the one way the node, the replay, the evaluation and the bench get a model.

`inference/resolve.py` decides the backend and the file it opens, once; this module hands that
file to the backend. Checkpoints (.pt/.pth/.ckpt) run in PyTorch, .onnx files in OpenVINO
(when installed, on the CPU or an Intel GPU), ONNX Runtime or TensorRT (built and cached),
.engine/.plan files in TensorRT, delta files (.delta.safetensors) as their assembled ONNX, or
with backend='torch' as the PyTorch network.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.inference.pipeline import PipelinePredictor
from uncertainty_seg_node.inference.resolve import ResolvedModel, resolve_model
from uncertainty_seg_node.model.artifact import (
    ModelFile,
    check_model_file,
    find_checkpoint_for,
    model_kind,
)
from uncertainty_seg_node.runtime import normalize_backend

__all__ = ["find_checkpoint_for", "load_predictor", "load_resolved", "model_kind"]


def load_predictor(
    path: str | Path | ModelFile | Sequence[str | Path],
    backend: str = "auto",
    device: str = "cpu",
    score_method: str | None = None,
    **options: Any,
) -> PipelinePredictor:
    """A Predictor for a model file (or a list of checkpoints: a deep ensemble).

    `options` go to the backend: precision (every backend: fp32, bf16, fp16, int8 or auto;
    `runtime.PRECISIONS`); torch: compile, mc_dropout, mc_dropout_p, temperature,
    energy_sigma, input_size; onnxruntime: threads, io_binding; openvino: threads; tensorrt:
    rebuild. The predictor's `selection` says which backend runs it and why (for `auto` on a
    CPU with OpenVINO: which gated pair was fastest here, with the timings).
    """
    if not isinstance(path, (str, Path, ModelFile)):
        paths = [Path(p) for p in path]
        if len(paths) == 1:
            return load_predictor(paths[0], backend, device, score_method, **options)
        return _ensemble(paths, normalize_backend(backend), device, score_method, **options)
    precision = options.pop("precision", "auto")
    return load_resolved(resolve_model(path, backend, device, precision), device, score_method,
                         **options)


def load_resolved(resolved: ResolvedModel, device: str = "cpu", score_method: str | None = None,
                  **options: Any) -> PipelinePredictor:
    """The backend `resolved` names, on the file it names."""
    precision = resolved.precision
    if resolved.backend == "fastest":
        from uncertainty_seg_node.inference.fastest import fastest_predictor

        return fastest_predictor(resolved, threads=options.get("threads"),
                                 score_method=score_method)
    if precision != "auto" and resolved.backend != "onnxruntime":
        options["precision"] = precision
    predictor: PipelinePredictor
    if resolved.backend == "torch":
        from uncertainty_seg_node.inference.torch_backend import TorchPredictor

        if resolved.kind == "delta":  # the network itself, e.g. for its logits
            from uncertainty_seg_node.export.assemble import build_segmenter_from_delta

            predictor = TorchPredictor(build_segmenter_from_delta(resolved.path), device=device,
                                       score_method=score_method, **options)
        else:
            predictor = TorchPredictor.from_checkpoint(resolved.path, device=device,
                                                       score_method=score_method, **options)
    elif resolved.backend == "onnxruntime":
        from uncertainty_seg_node.inference.ort_backend import OrtPredictor

        predictor = OrtPredictor(resolved.path, device=device, score_method=score_method,
                                 **options)
    elif resolved.backend == "openvino":
        from uncertainty_seg_node.inference.openvino_backend import OpenVinoPredictor

        predictor = OpenVinoPredictor(resolved.file, device=device, score_method=score_method,
                                      **options)
    else:
        from uncertainty_seg_node.inference.trt_backend import TensorRTPredictor

        predictor = TensorRTPredictor(resolved.path, device="cuda" if device == "cpu" else device,
                                      score_method=score_method, **options)
    detail = predictor.precision_choice
    predictor.selection = resolved.reason + (f"; {detail}" if detail else "")
    return predictor


def _ensemble(paths: list[Path], backend: str, device: str, score_method: str | None,
              **options: Any) -> PipelinePredictor:
    """A deep ensemble: several checkpoints averaged in PyTorch."""
    for member in paths:
        check_model_file(member)
        if model_kind(member) != "checkpoint" or backend not in ("auto", "torch"):
            raise UserError(f"an ensemble needs checkpoints and the torch backend ({member})")
    from uncertainty_seg_node.inference.torch_backend import TorchPredictor

    predictor = TorchPredictor.from_checkpoint(paths, device=device, score_method=score_method,
                                               **options)
    predictor.selection = f"backend torch (an ensemble of {len(paths)} checkpoints)"
    return predictor
