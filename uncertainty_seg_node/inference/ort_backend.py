"""ONNX Runtime backend: an exported `.onnx` file on CPU or CUDA.

The file's metadata (ModelConfig + export info) is read back from `metadata_props`, so the
predictor knows its classes, palette, input size, default gamma and score without a checkpoint.
On CUDA, I/O binding copies the small uint8 input once and writes outputs straight to host
buffers, avoiding ORT's per-run allocations.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.inference import pipeline
from uncertainty_seg_node.inference.pipeline import NetworkOutputs, wanted_outputs
from uncertainty_seg_node.model.artifact import (
    INPUT_NAME,
    OUTPUT_LOGITS,
    QUANTIZED_KEY,
    corrupt_model_error,
    output_names,
    parse_metadata,
)
from uncertainty_seg_node.runtime import parse_device


def default_threads() -> int:
    """Intra-op threads: the CPUs this process may run on, at most 8 (more rarely pays)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    return max(1, min(8, available))


def session_options(threads: int | None = None) -> Any:
    """SessionOptions: full graph optimisation, sequential execution, bounded threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    # Idle intra-op threads do not spin: on a small shared CPU spinning threads take the cores
    # the camera callback, DDS and other processes need, and the model itself gets slower when
    # those cores are busy. UNCERTAINTY_SEG_ORT_SPINNING=1 spins (cores reserved for the model).
    spinning = os.environ.get("UNCERTAINTY_SEG_ORT_SPINNING", "0") == "1"
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.log_severity_level = 3  # errors only; ORT warns about unused initializers
    return options


def providers_for(device: str) -> tuple[list[Any], str]:
    """ORT execution providers for 'cpu', 'cuda' or 'cuda:N'; refuses a missing CUDA provider."""
    import onnxruntime as ort

    kind, index = parse_device(device)
    if kind == "cpu":
        return ["CPUExecutionProvider"], "cpu"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise UserError(
            f"device {device!r} needs ONNX Runtime's CUDAExecutionProvider, which this "
            f"install lacks (has {ort.get_available_providers()}); install `onnxruntime-gpu` "
            "matching your CUDA, or use --device cpu"
        )
    cuda = ("CUDAExecutionProvider", {"device_id": index})
    return [cuda, "CPUExecutionProvider"], f"cuda:{index}"


class OrtPredictor(pipeline.PipelinePredictor):
    """An exported ONNX model behind the inference interface."""

    backend_name = "onnxruntime"

    def __init__(self, path: str | Path, *, device: str = "cpu", score_method: str | None = None,
                 threads: int | None = None, io_binding: bool | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)  # checked by `load_predictor`; a missing file fails below
        self.source = str(self.path)
        providers, self.device = providers_for(str(device))
        self.threads = threads or default_threads()
        try:
            self.session = ort.InferenceSession(
                str(self.path), session_options(self.threads), providers=providers
            )
        except Exception as exc:  # noqa: BLE001 - ORT raises private exception types
            raise corrupt_model_error(self.path, exc) from None
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.config, self.export_info = parse_metadata(props, self.path)
        self.precision = "int8" if QUANTIZED_KEY in props else "fp32"
        pipeline.check_fixed_score(self.path, self.export_info.score_method, score_method)
        self._check_io()
        # ORT silently drops a provider that fails to start (CUDA -> CPU); report what runs.
        self.execution_providers: list[str] = list(self.session.get_providers())
        self.device_in_use = ("cpu" if self.execution_providers[:1] == ["CPUExecutionProvider"]
                              else self.device)
        self.io_binding = self.device != "cpu" if io_binding is None else io_binding

    def _check_io(self) -> None:
        inputs = self.session.get_inputs()
        names = {o.name for o in self.session.get_outputs()}
        needed = output_names(with_logits=False)
        if (len(inputs) != 1 or inputs[0].name != INPUT_NAME or inputs[0].type != "tensor(uint8)"
                or not set(needed) <= names):
            raise UserError(
                f"{self.path} does not have the exported interface (input uint8 {INPUT_NAME!r}, "
                f"outputs {needed}); re-export it"
            )
        self.has_logits = OUTPUT_LOGITS in names

    def run_network(self, batch: np.ndarray, *, with_logits: bool = False) -> NetworkOutputs:
        names = wanted_outputs(self.path, self.has_logits, with_logits)
        batch = np.ascontiguousarray(batch)
        if self.io_binding:
            return NetworkOutputs.from_arrays(self._run_bound(batch, names))
        return NetworkOutputs.from_arrays(self.session.run(names, {INPUT_NAME: batch}))

    def _run_bound(self, batch: np.ndarray, names: list[str]) -> list[np.ndarray]:
        binding = self.session.io_binding()
        binding.bind_cpu_input(INPUT_NAME, batch)
        for name in names:
            binding.bind_output(name, "cpu")  # ORT copies device -> host once, into new arrays
        self.session.run_with_iobinding(binding)
        return list(binding.copy_outputs_to_cpu())

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]
