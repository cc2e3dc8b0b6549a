"""`backend: auto` on a CPU: the fastest (backend, precision) pair that passes its gate, here.

Which runtime and precision win depends on the CPU: OpenVINO int8 is the fastest on a CPU with
VNNI, while on an AVX2-only CPU ONNX Runtime int8 beat OpenVINO fp32 1.5x (and OpenVINO int8
failed its gate). So the candidates are measured on the machine that serves: ONNX Runtime fp32
and, where the model has one, its int8 graph (gated when it was made: `uncertainty-seg
quantize`, or the packed delta file); OpenVINO fp32, bf16 and int8, each only once it passes its
own gate (`inference/openvino_backend.py`). `precision` other than auto keeps the pairs of that
precision. Each candidate runs a few frames, interleaved with the others so they share the same
load; the fastest median wins and the rest are closed.

The timings are kept in a JSON record beside OpenVINO's gate verdicts (`<cache>/openvino/auto/`),
named by what they were measured under (the model files, the CPU and its deciding flags, the
threads, the runtimes' versions): the next configure loads the winner alone.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.cpu_info import cpu_info
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.model_cache import cache_dir
from uncertainty_seg_node.inference.openvino_backend import OpenVinoPredictor
from uncertainty_seg_node.inference.ort_backend import OrtPredictor, default_threads
from uncertainty_seg_node.inference.pipeline import PipelinePredictor
from uncertainty_seg_node.inference.quantize_check import gate_frames
from uncertainty_seg_node.inference.resolve import ResolvedModel
from uncertainty_seg_node.jsonfile import read_json_object

TIMED_RUNS = 5  # per candidate, after one warm-up run
OPENVINO_PRECISIONS = ("int8", "bf16", "fp32")
LOG = logging.getLogger(__name__)


def candidates(resolved: ResolvedModel) -> list[tuple[str, str]]:
    """The (backend, precision) pairs `resolved` may run as, for its asked precision."""
    pairs = [("onnxruntime", "fp32")]
    if resolved.int8 is not None:
        pairs.append(("onnxruntime", "int8"))
    pairs += [("openvino", precision) for precision in OPENVINO_PRECISIONS]
    return [pair for pair in pairs if resolved.precision in ("auto", pair[1])]


def measured_under(resolved: ResolvedModel, threads: int) -> dict[str, Any]:
    """What the timings depend on: any change means measuring again."""
    cpu = cpu_info()
    return {"fp32_sha256": resolved.file.sha256,
            "int8_sha256": resolved.int8.sha256 if resolved.int8 is not None else None,
            "precision": resolved.precision, "cpu": cpu.model, "isa": cpu.isa(),
            "threads": threads, "onnxruntime": _version("onnxruntime"),
            "openvino": _version("openvino"), "nncf": _version("nncf")}


def record_path(facts: dict[str, Any]) -> Path:
    """`<cache>/openvino/auto/<digest of the facts>.json`."""
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()
    return cache_dir() / "openvino" / "auto" / f"{digest[:20]}.json"


def fastest_predictor(resolved: ResolvedModel, *, threads: int | None = None,
                      score_method: str | None = None) -> PipelinePredictor:
    """The fastest gated pair for `resolved` on this CPU; its `selection` names the timings."""
    threads = threads or default_threads()
    facts = measured_under(resolved, threads)
    record = record_path(facts)
    kept = _kept(record, facts)
    if kept is not None:
        backend, precision = kept["winner"].split(":")
        try:
            predictor = _load(resolved, backend, precision, threads, score_method)
        except UserError:  # e.g. its verdict was deleted and it now fails: measure again
            pass
        else:
            predictor.selection = _selection(resolved, kept, record, cached=True)
            return predictor
    pairs = candidates(resolved)
    if not pairs:
        raise UserError(f"precision {resolved.precision} runs in neither CPU runtime: ONNX "
                        "Runtime runs fp32 and int8 graphs, OpenVINO fp32, bf16 and int8")
    loaded: dict[str, PipelinePredictor] = {}
    refused: dict[str, str] = {}
    for backend, precision in pairs:
        label = f"{backend}:{precision}"
        try:
            loaded[label] = _load(resolved, backend, precision, threads, score_method)
        except UserError as exc:
            refused[label] = str(exc)
    if not loaded:
        raise UserError(f"no runtime can serve {resolved.given.path}: " + "; ".join(
            f"{label}: {why}" for label, why in refused.items()))
    timings = time_network(loaded)
    winner = min(timings, key=timings.__getitem__)
    for label, predictor in loaded.items():
        if label != winner:
            predictor.close()
    result = {"measured_under": facts, "winner": winner, "network_ms_median": timings,
              "refused": refused}
    atomic_write(record, json.dumps(result, indent=1, sort_keys=True) + "\n")
    predictor = loaded[winner]
    predictor.selection = _selection(resolved, result, record, cached=False)
    LOG.info("%s", predictor.selection)
    return predictor


def time_network(predictors: dict[str, PipelinePredictor], runs: int = TIMED_RUNS
                 ) -> dict[str, float]:
    """Median network time (ms) of each predictor on a synthetic frame, runs interleaved."""
    first = next(iter(predictors.values()))
    image = np.ascontiguousarray(gate_frames(first.input_size)[0][0][None])
    for predictor in predictors.values():
        predictor.run_network(image)
    times: dict[str, list[float]] = {label: [] for label in predictors}
    for _ in range(runs):
        for label, predictor in predictors.items():
            start = time.perf_counter()
            predictor.run_network(image)
            times[label].append(1e3 * (time.perf_counter() - start))
    return {label: float(np.median(values)) for label, values in times.items()}


def _load(resolved: ResolvedModel, backend: str, precision: str, threads: int,
          score_method: str | None) -> PipelinePredictor:
    if backend == "onnxruntime":
        source = resolved.int8 if precision == "int8" else resolved.file
        assert source is not None  # `candidates` offers int8 only with its graph
        return OrtPredictor(source.path, threads=threads, score_method=score_method)
    return OpenVinoPredictor(resolved.file, precision=precision, threads=threads,
                             score_method=score_method)


def _selection(resolved: ResolvedModel, result: dict[str, Any], record: Path,
               cached: bool) -> str:
    """One line for the start-up log: the winner, every timing, the refused pairs."""
    cpu = cpu_info()
    timings = ", ".join(f"{label} {ms:.1f} ms" for label, ms in
                        sorted(result["network_ms_median"].items(), key=lambda item: item[1]))
    refused = "".join(f"; {label} refused: {why}" for label, why in result["refused"].items())
    how = f"measured before, kept in {record}" if cached else f"kept in {record}"
    return (f"{resolved.reason}: {result['winner'].replace(':', ' ')} on {cpu.model} "
            f"({cpu.isa()}), {resolved.given.path.name}, network median {timings} ({how})"
            f"{refused}")


def _kept(record: Path, facts: dict[str, Any]) -> dict[str, Any] | None:
    if not record.is_file():
        return None
    try:
        kept = read_json_object(record, missing=f"{record} is gone", fix="delete it")
        if kept["measured_under"] != facts or ":" not in str(kept["winner"]):
            return None
        dict(kept["network_ms_median"])
        dict(kept["refused"])
    except (UserError, KeyError, TypeError, ValueError):
        return None
    return kept


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
