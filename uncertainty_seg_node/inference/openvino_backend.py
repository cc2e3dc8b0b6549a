"""OpenVINO backend: an exported fp32 `.onnx` compiled for the CPU (or an Intel GPU).

Precision `fp32`, `bf16` or `int8` (NNCF), or `auto`: the first of int8, bf16, fp32 that the
device supports and that passes the shipping gate (`inference/quantize_check.py`: against ONNX
Runtime's fp32 run of the same file, labels >= 99 % equal and AUPR moved < 0.005 on labelled
synthetic frames of every domain). A precision is measured once per compiled-model key
(`export/openvino_build.py`): the verdict is kept in the sidecar beside the cached blob, so a
refused precision is refused again at once, with its figures, and an accepted one loads in
about a second. OpenVINO's `GPU` device (an Intel iGPU, `device:=gpu`) takes the same path; it
has not been run by this package's tests, which have no such GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export import openvino_build as build
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
from uncertainty_seg_node.model.artifact import (
    OUTPUT_LOGITS,
    file_sha256,
    read_onnx_metadata,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

AUTO_ORDER = ("int8", "bf16", "fp32")  # fastest first


class OpenVinoPredictor(PipelinePredictor):
    """An exported fp32 ONNX model, compiled by OpenVINO, behind the inference interface."""

    backend_name = "openvino"

    def __init__(self, path: str | Path, *, device: str = "cpu", precision: str = "auto",
                 threads: int | None = None, score_method: str | None = None) -> None:
        ov = build.import_openvino()
        self.path = Path(path)  # checked by `load_predictor`: an fp32 graph
        self.config, self.export_info = read_onnx_metadata(self.path)
        check_fixed_score(self.path, self.export_info.score_method, score_method)
        self.device = self.device_in_use = str(device)
        self.ov_device = build.openvino_device(device)  # OpenVINO's name: CPU, GPU, GPU.1
        self.threads = threads or default_threads()
        self._core = build.open_core()
        build.full_device_name(self._core, self.ov_device)  # a missing device: UserError
        self._sha256 = file_sha256(self.path)
        refusals: list[str] = []
        for candidate in (AUTO_ORDER if precision == "auto" else (precision,)):
            unsupported = build.precision_unsupported(self._core, self.ov_device, candidate)
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
        self.precision_choice = f"precision {self.precision} ({gate_summary(self.gate)})" + (
            f"; passed over: {'; '.join(refusals)}" if refusals else "")
        self.execution_providers = [f"OpenVINO {ov.get_version()} {self.ov_device} "
                                    f"{self.precision}"]

    def _load_or_build(self, precision: str) -> str:
        """Use `precision` (cached, or compiled and gated now); '' or why it is refused."""
        key = build.current_key(self._core, self._sha256, self.ov_device, precision)
        blob = build.compiled_path(key)
        gate = _cached_gate(blob, key)
        if gate is not None and gate["ships"] and blob.is_file():
            self._use(build.load_compiled(self._core, blob, self.ov_device, precision,
                                          self.threads), precision, gate)
            return ""
        if gate is None and precision != "fp32" and not labels_fit(self.config.class_names):
            return (f"{precision}: its shipping gate needs labelled frames in the model's classes "
                    "and the synthetic frames are labelled in the 19 Cityscapes classes")
        if gate is None:
            model = build.read_for_device(self._core, self.path, self.input_size)
            if precision == "int8":
                model = build.quantize_int8(model, self.input_size)
            self._use(build.compile_model(self._core, model, self.ov_device, precision,
                                          self.threads), precision, {})
            gate = self._measure_gate()
            cache = {"key": key.to_dict(), "onnx": str(self.path.resolve()), "gate": gate}
            write_sidecar(blob, self.config, self.export_info, cache)
            if gate["ships"]:
                build.save_compiled(self._compiled, blob)
                self.gate = gate
                return ""
        return (f"{precision} fails the shipping gate ({gate_summary(gate)}; verdict kept in "
                f"{sidecar_path(blob)}: delete it to measure again)")

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
        self._ports = build.output_ports(compiled)
        self.has_logits = OUTPUT_LOGITS in self._ports
        self.precision = precision
        self.gate = gate

    def run_network(self, batch: np.ndarray, *, with_logits: bool = False) -> NetworkOutputs:
        names = wanted_outputs(self.path, self.has_logits, with_logits)
        frames = [build.infer(self._request, self._ports, names, np.ascontiguousarray(one[None]))
                  for one in batch]  # compiled for one frame a call
        return NetworkOutputs.from_arrays([np.concatenate([f[i] for f in frames])
                                           for i in range(len(names))])

    def close(self) -> None:
        self._request = self._compiled = None


def _cached_gate(blob: Path, key: build.CompiledKey) -> dict[str, Any] | None:
    """The gate figures recorded for `key`, or None when nothing (valid) was recorded."""
    if not sidecar_path(blob).is_file():
        return None
    try:
        _, _, cache = read_sidecar(blob)
        if build.CompiledKey.from_dict(cache["key"]) != key:
            return None
        gate = dict(cache["gate"])
        bool(gate["ships"])
    except (UserError, KeyError, TypeError, ValueError):
        return None
    return gate
