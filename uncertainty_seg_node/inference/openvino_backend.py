"""OpenVINO backend: an exported fp32 `.onnx` compiled for the CPU (or an Intel GPU).

Precision `fp32`, `bf16` or `int8` (NNCF), or `auto`: the first of int8, bf16, fp32 that the
device supports and that passes the shipping gate (`inference/quantize_check.py`: against ONNX
Runtime's fp32 run of the same file, labels >= 99 % equal and AUPR moved < 0.005 on labelled
synthetic frames of every domain). `backend: auto` compares the precisions that pass with ONNX
Runtime's by speed (`inference/fastest.py`).

The files: `export/openvino_build.py` saves the model as a static-shape IR (and NNCF's int8 IR,
with the overflow fix the CPU needs), once; OpenVINO's `CACHE_DIR` keeps the compiled blobs.
The one record of this package's own is the gate verdict, a JSON beside the IR, named by what
it was measured under (the ONNX file, OpenVINO's version, the device's full name, the
precision and the int8 recipe): a refused precision is refused again at once, with its figures
and why, and an accepted one loads in about a second. OpenVINO's `GPU` device (an Intel iGPU,
`device:=gpu`) takes the same path; it has not been run by this package's tests, which have no
such GPU.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.cpu_info import CpuInfo, cpu_info
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export import openvino_build as build
from uncertainty_seg_node.inference import openvino_runtime as runtime
from uncertainty_seg_node.inference.ort_backend import OrtPredictor, default_threads
from uncertainty_seg_node.inference.pipeline import (
    NetworkOutputs,
    PipelinePredictor,
    check_fixed_score,
    wanted_outputs,
)
from uncertainty_seg_node.inference.quantize_check import (
    MIN_LABEL_AGREEMENT,
    gate_frames,
    gate_summary,
    labels_fit,
    precision_gate,
)
from uncertainty_seg_node.jsonfile import read_json_object
from uncertainty_seg_node.model.artifact import OUTPUT_LOGITS, ModelFile, model_file

AUTO_ORDER = ("int8", "bf16", "fp32")  # fastest first on a CPU with the hardware for each


class OpenVinoPredictor(PipelinePredictor):
    """An exported fp32 ONNX model, compiled by OpenVINO, behind the inference interface."""

    backend_name = "openvino"

    def __init__(self, path: str | Path | ModelFile, *, device: str = "cpu",
                 precision: str = "auto", threads: int | None = None,
                 score_method: str | None = None, cpu: CpuInfo | None = None) -> None:
        ov = build.import_openvino()
        self.file = model_file(path)  # checked by `load_predictor`: an fp32 graph
        self.path = self.file.path
        self.source = str(self.path)
        self.config, self.export_info = self.file.metadata()
        check_fixed_score(self.path, self.export_info.score_method, score_method)
        self.device = self.device_in_use = str(device)
        self.ov_device = runtime.openvino_device(device)  # OpenVINO's name: CPU, GPU, GPU.1
        self.threads: int = threads or default_threads()
        self.cpu = cpu or cpu_info()  # its VNNI decides int8's overflow fix
        self._core = runtime.open_core()
        self._device_name = runtime.full_device_name(self._core, self.ov_device)
        self._folder = build.ir_folder(self.file.sha256, self.input_size)
        refusals: list[str] = []
        for candidate in (AUTO_ORDER if precision == "auto" else (precision,)):
            unsupported = runtime.precision_unsupported(self._core, self.ov_device, candidate)
            if unsupported:
                refusals.append(unsupported)
                continue
            try:
                refusal = self._load_or_build(candidate)
            except UserError as exc:  # e.g. NNCF missing: `auto` goes on to the next precision
                if precision != "auto":
                    raise
                refusal = f"{candidate}: {exc}"
            if not refusal:
                break
            refusals.append(refusal)
        else:
            raise UserError(f"OpenVINO cannot serve {self.path.name} on {self.ov_device}: "
                            + "; ".join(refusals))
        self.refused = refusals  # the faster precisions `auto` passed over, and why
        self.gate: dict[str, Any] = self.gate or {}
        self.precision_choice = f"precision {self.precision} ({gate_summary(self.gate)})" + (
            f"; passed over: {'; '.join(refusals)}" if refusals else "")
        self.execution_providers = [f"OpenVINO {ov.get_version()} {self.ov_device} "
                                    f"{self.precision}"]

    def measured_under(self, precision: str) -> dict[str, Any]:
        """What a precision's gate verdict depends on: any change means measuring again."""
        facts: dict[str, Any] = {
            "onnx_sha256": self.file.sha256, "input_size": list(self.input_size),
            "openvino": str(build.import_openvino().get_version()),
            "device": self.ov_device, "device_name": self._device_name, "precision": precision}
        if precision == "int8":
            facts["recipe"] = build.int8_recipe(self.overflow_fix)
        return facts

    @property
    def overflow_fix(self) -> str:
        """NNCF's overflow fix for this CPU (`openvino_build.overflow_fix_for`)."""
        return build.overflow_fix_for(self.cpu, self.ov_device)

    def verdict_path(self, precision: str) -> Path:
        """`<IR folder>/<precision>.<digest of measured_under>.gate.json`."""
        text = json.dumps(self.measured_under(precision), sort_keys=True)
        return self._folder / f"{precision}.{hashlib.sha256(text.encode()).hexdigest()[:16]}" \
            ".gate.json"

    def _load_or_build(self, precision: str) -> str:
        """Use `precision` (its verdict kept, or measured now); '' or why it is refused."""
        verdict = self.verdict_path(precision)
        gate = _kept_gate(verdict, self.measured_under(precision))
        if gate is None and precision != "fp32" and not labels_fit(self.config.class_names):
            return (f"{precision}: its shipping gate needs labelled frames in the model's classes "
                    "and the synthetic frames are labelled in the 19 Cityscapes classes")
        if gate is not None and not gate["ships"]:
            return self._refusal(precision, gate, verdict)
        ir = build.ir_path(self._folder, precision, self.overflow_fix)
        if not ir.is_file():
            with runtime.keep_signal_stack():  # NNCF compiles the model for its statistics
                build.build_ir(self._core, self.path, self.input_size, ir,
                               int8_overflow_fix=self.overflow_fix if precision == "int8"
                               else None)
        self._use(runtime.compile_model(self._core, ir, self.ov_device, precision, self.threads,
                                        build.compiled_cache()), precision, gate or {})
        if gate is None:
            gate = self._measure_gate()
            atomic_write(verdict, json.dumps({"measured_under": self.measured_under(precision),
                                              "gate": gate}, indent=1, sort_keys=True) + "\n")
            self.gate = gate
        return "" if gate["ships"] else self._refusal(precision, gate, verdict)

    def _refusal(self, precision: str, gate: dict[str, Any], verdict: Path) -> str:
        why = f"; {self.int8_reading()}" if precision == "int8" else ""
        return (f"{precision} fails the shipping gate ({gate_summary(gate)}{why}; verdict kept "
                f"in {verdict}: delete it to measure again)")

    def int8_reading(self) -> str:
        """Why int8 may move the labels on this device: saturation, or the model's own error."""
        if self.ov_device != "CPU":
            return f"on {self.ov_device} the int8 error is the model's own"
        if self.cpu.int8_vnni:
            return (f"{self.cpu.model} has VNNI ({self.cpu.isa()}), so 8-bit dot products do "
                    "not saturate and the weights kept 8 bits (overflow fix disable): the int8 "
                    "error is the model's own")
        return (f"{self.cpu.model} has no VNNI ({self.cpu.isa()}): its int8 kernels add pairs "
                "of 8-bit products in 16 bits, which saturates, so the weights were quantised "
                "to 7 bits (NNCF overflow fix enable), one bit of weight precision less")

    def _measure_gate(self) -> dict[str, Any]:
        """The gate of the compiled model against ONNX Runtime's fp32 run of the same file.

        A model in other classes than the synthetic labels' gets fp32 only: a parity check of
        the labels, AUPR not measured.
        """
        images, labels = gate_frames(self.input_size)
        fits = labels_fit(self.config.class_names)
        reference = OrtPredictor(self.path, threads=self.threads)
        try:
            gate = precision_gate(reference, self, images, labels if fits else None, repeats=1)
        finally:
            reference.close()
        if not fits:
            gate["ships"] = gate["label_agreement"] >= MIN_LABEL_AGREEMENT
        return gate

    def _use(self, compiled: Any, precision: str, gate: dict[str, Any]) -> None:
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._ports = runtime.output_ports(compiled)
        self.has_logits = OUTPUT_LOGITS in self._ports
        self.precision = precision
        self.gate = gate

    def run_network(self, batch: np.ndarray, *, with_logits: bool = False) -> NetworkOutputs:
        names = wanted_outputs(self.path, self.has_logits, with_logits)
        frames = [runtime.infer(self._request, self._ports, names,
                                np.ascontiguousarray(one[None]))
                  for one in batch]  # compiled for one frame a call
        return NetworkOutputs.from_arrays([np.concatenate([f[i] for f in frames])
                                           for i in range(len(names))])

    def close(self) -> None:
        self._request = self._compiled = None


def _kept_gate(verdict: Path, measured_under: dict[str, Any]) -> dict[str, Any] | None:
    """The gate figures kept for exactly these facts, or None when none (valid) were kept."""
    if not verdict.is_file():
        return None
    try:
        record = read_json_object(verdict, missing=f"{verdict} is gone",
                                  fix="delete it to measure again")
        if record["measured_under"] != measured_under:
            return None
        gate = dict(record["gate"])
        bool(gate["ships"])
    except (UserError, KeyError, TypeError, ValueError):
        return None
    return gate
