"""Latency of the inference backends, per stage, with the ratios measured in the same run.

Every backend gets the same camera image (default 480x640, bgr8 like most cameras). Iterations
are interleaved round-robin across backends, so load changes on a shared machine hit every
backend alike and the ratios stay meaningful even when absolute times drift. Two loops:
- the whole pipeline, `predict()` (pre-processing, inference, post-processing, per stage);
- the network alone, `run_network()` on an already prepared batch ("inference alone").

Ratios: onnxruntime / torch eager (network alone and whole pipeline), and per backend whole
pipeline / network alone, plus (pre + post) / inference.
"""

from __future__ import annotations

import contextlib
import platform
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.cpu_info import load_average, machine_facts
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.parity import smooth_random_images
from uncertainty_seg_node.inference.factory import load_predictor
from uncertainty_seg_node.inference.pipeline import PipelinePredictor
from uncertainty_seg_node.inference.preprocess import preprocess
from uncertainty_seg_node.model.artifact import (
    ModelFile,
    find_checkpoint_for,
    model_file,
    resolve_model_path,
)
from uncertainty_seg_node.runtime import normalize_backend, normalize_precision

STAGES = ("preprocess", "inference", "postprocess", "total")


def latency_stats(values_ms: Sequence[float]) -> dict[str, float]:
    """Median, p99, mean, min and max of latencies in milliseconds."""
    if len(values_ms) == 0:
        raise ValueError("no latencies measured")
    data = np.asarray(values_ms, dtype=np.float64)
    return {
        "median_ms": float(np.median(data)),
        "p99_ms": float(np.percentile(data, 99)),
        "mean_ms": float(data.mean()),
        "min_ms": float(data.min()),
        "max_ms": float(data.max()),
        "n": int(data.size),
    }


def parse_backends(specs: Sequence[str], precision: str = "auto") -> list[tuple[str, str]]:
    """`backend[:precision]` entries -> (backend, precision); `precision` where none is named."""
    parsed = []
    for spec in specs:
        name, _, own = spec.partition(":")
        parsed.append((normalize_backend(name.strip()),
                       normalize_precision(own.strip() or precision)))
    if not parsed or any(name == "auto" for name, _ in parsed):
        raise UserError("name the backends to compare, e.g. --backends torch,onnxruntime or "
                        "onnxruntime:int8,openvino:int8")
    return list(dict.fromkeys(parsed))


def make_predictors(
    model: str | Path,
    backends: Sequence[str],
    *,
    device: str = "cpu",
    checkpoint: str | Path | None = None,
    scratch: Path,
    torch_options: dict[str, Any] | None = None,
    threads: int | None = None,
    precision: str = "auto",
) -> tuple[dict[str, PipelinePredictor], dict[str, str]]:
    """One predictor per `backend[:precision]` entry for the same model; (predictors, skipped).

    A checkpoint is exported to ONNX in `scratch` for the other backends; a delta file is
    assembled (and cached) for them and built as a network for torch; for an .onnx model, torch
    uses `checkpoint`, else the checkpoint the file was exported from (recorded in its
    metadata, when it still exists unchanged), else a sibling `<stem>.pt`. TensorRT without a
    GPU and an OpenVINO precision the device lacks or the shipping gate refuses are skipped,
    with the reason.
    """
    given = model_file(resolve_model_path(model))  # read once, handed down
    kind = given.kind
    entries = parse_backends(backends, precision)
    exported: Path | None = None
    predictors: dict[str, PipelinePredictor] = {}
    skipped: dict[str, str] = {}
    for name, wanted in entries:
        label = name if wanted == "auto" else f"{name}:{wanted}"
        options: dict[str, Any] = {} if wanted == "auto" else {"precision": wanted}
        if name == "torch":
            options.update(torch_options or {})
            source: Path | ModelFile | None = Path(checkpoint) if checkpoint else given
            if kind == "onnx":
                options["input_size"] = tuple(given.metadata()[0].input_size)
                source = Path(checkpoint) if checkpoint else find_checkpoint_for(given)
            if source is None:
                raise UserError(
                    f"the torch backend needs the checkpoint {given.path} was exported from; "
                    "pass --checkpoint CKPT (none recorded in its metadata or beside it)")
        else:
            if threads:
                options["threads"] = threads
            if kind == "checkpoint" and exported is None:
                from uncertainty_seg_node.export.onnx_export import export_onnx

                exported = export_onnx(given.path, scratch / f"{given.path.stem}.onnx",
                                       parity=False).path
            source = exported if kind == "checkpoint" and exported is not None else given
        try:
            predictors[label] = load_predictor(source, name, device, **options)
        except UserError as exc:
            if name not in ("tensorrt", "openvino"):
                raise
            skipped[label] = str(exc)
    return predictors, skipped


def benchmark(
    predictors: dict[str, PipelinePredictor],
    image: np.ndarray,
    *,
    encoding: str = "bgr8",
    iters: int = 50,
    warmup: int = 5,
) -> dict[str, Any]:
    """Per-backend stage statistics and the ratios, all from one interleaved run."""
    if iters < 1 or warmup < 0:
        raise UserError(f"need iters >= 1 and warmup >= 0, got {iters} and {warmup}")
    names = list(predictors)
    batches = {
        name: preprocess(image, encoding, p.input_size, p.config.resize_policy,
                         p.config.mean)[0][None]
        for name, p in predictors.items()
    }
    for _ in range(warmup):
        for name, predictor in predictors.items():
            predictor.predict(image, encoding=encoding)
            predictor.run_network(batches[name])
    stages: dict[str, dict[str, list[float]]] = {n: {s: [] for s in STAGES} for n in names}
    alone: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(iters):
        for name, predictor in predictors.items():
            start = time.perf_counter()
            prediction = predictor.predict(image, encoding=encoding)
            stages[name]["total"].append(1e3 * (time.perf_counter() - start))
            for stage, ms in prediction.timings_ms.items():
                stages[name][stage].append(ms)
    for _ in range(iters):
        for name, predictor in predictors.items():
            start = time.perf_counter()
            predictor.run_network(batches[name])
            alone[name].append(1e3 * (time.perf_counter() - start))
    results: dict[str, Any] = {}
    for name, predictor in predictors.items():
        entry = {stage: latency_stats(v) for stage, v in stages[name].items()}
        entry["network_alone"] = latency_stats(alone[name])
        results[name] = {
            "backend": predictor.backend_name,
            "precision": predictor.precision,
            "threads": predictor.threads,
            "gate": predictor.gate,
            "device": predictor.device_in_use,
            "input_size": list(predictor.input_size),
            "stages": entry,
        }
    return {"backends": results, "ratios": ratios(results)}


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Ratios of medians between stages and backends (only those whose backends ran)."""
    def median(name: str, stage: str) -> float:
        return float(results[name]["stages"][stage]["median_ms"])

    out: dict[str, Any] = {"pipeline_over_inference": {}, "pre_post_over_inference": {},
                           "network_alone_over_first": {}}
    first = next(iter(results), None)
    for name in results:
        out["network_alone_over_first"][name] = (median(name, "network_alone")
                                                 / median(str(first), "network_alone"))
        out["pipeline_over_inference"][name] = median(name, "total") / median(name,
                                                                               "network_alone")
        out["pre_post_over_inference"][name] = (
            median(name, "preprocess") + median(name, "postprocess")) / median(name, "inference")
    if "torch" in results and "onnxruntime" in results:
        out["onnxruntime_over_torch_eager"] = (median("onnxruntime", "network_alone")
                                               / median("torch", "network_alone"))
        out["onnxruntime_over_torch_eager_pipeline"] = (median("onnxruntime", "total")
                                                        / median("torch", "total"))
    if "tensorrt" in results and "torch" in results:
        out["tensorrt_over_torch_eager"] = (median("tensorrt", "network_alone")
                                            / median("torch", "network_alone"))
    return out


def machine_info(device: str) -> dict[str, Any]:
    """Where the figures were measured: the CPU and its deciding ISA flags, the libraries."""
    import onnxruntime as ort

    info: dict[str, Any] = {**machine_facts(), "processor": platform.machine(),
                            "onnxruntime": ort.__version__, "device": device}
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if device.startswith("cuda") and torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    except ImportError:
        pass
    return info


def run_benchmark(
    model: str | Path,
    backends: Sequence[str] = ("torch", "onnxruntime"),
    *,
    image_size: tuple[int, int] = (480, 640),
    iters: int = 50,
    warmup: int = 5,
    device: str = "cpu",
    checkpoint: str | Path | None = None,
    encoding: str = "bgr8",
    torch_options: dict[str, Any] | None = None,
    threads: int | None = None,
    precision: str = "auto",
) -> dict[str, Any]:
    """The whole benchmark of `model` on a camera image of `image_size`: a JSON-ready dict.

    `threads` sets the CPU threads of both torch (process-wide) and ONNX Runtime; by default
    each library picks its own (torch: physical cores, ORT: `default_threads()`).
    """
    if threads is not None and threads < 1:
        raise UserError(f"--threads must be at least 1, got {threads}")
    rgb = smooth_random_images(image_size, 1, seed=0)[0]
    image = np.ascontiguousarray(rgb[..., ::-1]) if encoding == "bgr8" else rgb
    load_before = load_average()
    with tempfile.TemporaryDirectory() as scratch, _torch_threads(threads):
        predictors, skipped = make_predictors(
            model, backends, device=device, checkpoint=checkpoint, scratch=Path(scratch),
            torch_options=torch_options, threads=threads, precision=precision,
        )
        if not predictors:
            raise UserError("no backend could run: " + "; ".join(skipped.values()))
        result = benchmark(predictors, image, encoding=encoding, iters=iters, warmup=warmup)
        machine = machine_info(device)
    machine.update(load_before=load_before, load_after=machine["load_average"])
    config = next(iter(predictors.values())).config
    result.update(
        model=str(model), arch=config.arch, image_size=list(image_size),
        input_size=list(config.input_size), encoding=encoding, iters=iters, warmup=warmup,
        skipped=skipped, machine=machine, torch_options=torch_options or {},
        threads=threads,
    )
    ort_predictor = predictors.get("onnxruntime")
    if ort_predictor is not None:
        result["machine"]["onnxruntime_threads"] = ort_predictor.threads
    return result


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """PyTorch's thread count is process-wide: set it for the run, then restore it."""
    if threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def table(result: dict[str, Any]) -> list[str]:
    """Human-readable lines: median (p99) per stage and backend, then the ratios."""
    h, w = result["image_size"]
    nh, nw = result["input_size"]
    lines = [f"{result['arch']} on a {h}x{w} {result['encoding']} image -> network {nh}x{nw}, "
             f"{result['iters']} iterations, median (p99) ms",
             f"{'backend':<14}{'preprocess':>16}{'inference':>18}{'postprocess':>16}"
             f"{'total':>18}{'network alone':>18}"]
    for name, entry in result["backends"].items():
        cells = [f"{entry['stages'][s]['median_ms']:.2f} ({entry['stages'][s]['p99_ms']:.2f})"
                 for s in (*STAGES, "network_alone")]
        lines.append(f"{name:<14}{cells[0]:>16}{cells[1]:>18}{cells[2]:>16}{cells[3]:>18}"
                     f"{cells[4]:>18}")
    r = result["ratios"]
    for name, value in r["pipeline_over_inference"].items():
        lines.append(f"{name}: whole pipeline / network alone = {value:.3f}, "
                     f"(pre + post) / inference = {r['pre_post_over_inference'][name]:.3f}")
    if "onnxruntime_over_torch_eager" in r:
        lines.append(f"onnxruntime / torch eager = {r['onnxruntime_over_torch_eager']:.3f} "
                     f"(network), {r['onnxruntime_over_torch_eager_pipeline']:.3f} (pipeline)")
    for name, reason in result.get("skipped", {}).items():
        lines.append(f"{name}: skipped ({reason})")
    return lines
