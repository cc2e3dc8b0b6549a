"""The CPU backends side by side: ONNX Runtime fp32/int8 and OpenVINO fp32/bf16/int8, one run.

    python -m studies.speed_backends [--work DIR] [--iters 30] [--frames 60] [--record]

For the default model at its 168x224 input and exported at 336x448, at 1 and 2 threads, the
five variants run interleaved in one `bench` loop each (`uncertainty_seg_node.bench.benchmark`:
network alone and the whole pipeline on a 480x640 bgr8 camera image). Each variant's shipping
gate is recorded with it: OpenVINO's from its build, ONNX Runtime int8's from
`quantization_check` against the fp32 graph on the same frames; at 168x224, the pair that
`backend: auto` serves (`inference/fastest.py`) with its own timings. Then, at 168x224 with the
backends' default threads, `bench-node` per variant (the node over DDS against predict() in this
process, one after another) and `uncertainty-seg replay` of the demo drive per variant: its
wall time over the backend's own inference time. `--record` writes
docs/results/speed_backends.json (the table `speed_backends` in docs/speed.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.bench import benchmark
from uncertainty_seg_node.cpu_info import cpu_info, load_average
from uncertainty_seg_node.export.assemble import assemble_onnx
from uncertainty_seg_node.export.parity import smooth_random_images
from uncertainty_seg_node.inference import load_predictor
from uncertainty_seg_node.inference.quantize_check import gate_frames, quantization_check
from uncertainty_seg_node.model.artifact import DEFAULT_MODEL_PATH, resolve_model_path

VARIANTS = (("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "fp32"),
            ("openvino", "bf16"), ("openvino", "int8"))
REFERENCE = "onnxruntime:int8"  # today's CPU path: every ratio is over it
SIZES = ((168, 224), (336, 448))
CAMERA = (480, 640)


def _models(work: Path) -> dict[tuple[int, int], dict[str, Path]]:
    """The fp32 and ONNX Runtime int8 files of the default model at each size."""
    delta = resolve_model_path(DEFAULT_MODEL_PATH)
    files = {SIZES[0]: {"fp32": assemble_onnx(delta, fp32=True), "int8": assemble_onnx(delta)}}
    for size in SIZES[1:]:
        name = f"default_{size[0]}x{size[1]}"
        fp32, int8 = work / f"{name}.onnx", work / f"{name}.int8.onnx"
        if not fp32.is_file():
            _run(["uncertainty-seg", "export", "--checkpoint", str(delta), "--onnx", str(fp32),
                  "--size", f"{size[0]}x{size[1]}"])
        if not int8.is_file():
            from uncertainty_seg_node.export.quantize import quantize_onnx

            quantize_onnx(fp32, int8)
        files[size] = {"fp32": fp32, "int8": int8}
    return files


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    print("$", shlex.join(command), file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, capture_output=True, text=True)


def _predictors(files: dict[str, Path], threads: int) -> dict[str, Any]:
    predictors = {}
    for backend, precision in VARIANTS:
        source = files["int8"] if (backend, precision) == ("onnxruntime", "int8") \
            else files["fp32"]
        predictors[f"{backend}:{precision}"] = load_predictor(
            source, backend, precision=precision, threads=threads)
    return predictors


def _ort_int8_gate(files: dict[str, Path], size: tuple[int, int]) -> dict[str, Any]:
    images, labels = gate_frames(size)
    return quantization_check(files["fp32"], files["int8"], images, labels)


def bench_cells(files: dict[tuple[int, int], dict[str, Path]], iters: int
                ) -> dict[str, dict[str, Any]]:
    """One interleaved `benchmark` per (size, threads); each variant's gate beside it."""
    rgb = smooth_random_images(CAMERA, 1, seed=0)[0]
    image = np.ascontiguousarray(rgb[..., ::-1])
    rows = {}
    for size in SIZES:
        ort_gate = _ort_int8_gate(files[size], size)
        for threads in (1, 2):
            before = load_average()
            predictors = _predictors(files[size], threads)
            result = benchmark(predictors, image, encoding="bgr8", iters=iters, warmup=3)
            result["backends"][REFERENCE]["gate"] = ort_gate
            result.update(image_size=list(CAMERA), input_size=list(size), threads=threads,
                          encoding="bgr8", iters=iters, load_before=before,
                          load_after=load_average())
            if size == SIZES[0]:  # what `backend: auto` serves the default model here
                auto = load_predictor(DEFAULT_MODEL_PATH, threads=threads)
                result["auto"] = {"served": f"{auto.backend_name}:{auto.precision}",
                                  "selection": auto.selection}
                auto.close()
            rows[f"bench-{size[0]}x{size[1]}-t{threads}"] = {
                "label": f"{size[0]}×{size[1]}, {threads} thread{'s' * (threads > 1)}",
                "command": "bench", "checkpoints": [DEFAULT_MODEL_PATH], "metrics": result}
            for predictor in predictors.values():
                predictor.close()
    return rows


def node_rows(frames: int) -> dict[str, dict[str, Any]]:
    """`bench-node` of each variant at 168x224, one after another."""
    from uncertainty_seg_node.ros_drivers.bench_node import BenchSettings, run_bench

    rows = {}
    for backend, precision in VARIANTS:
        before = load_average()
        result = run_bench(BenchSettings(model=DEFAULT_MODEL_PATH, frames=frames,
                                         backend=backend, precision=precision,
                                         overload_s=2.0))
        result.update(load_before=before, load_after=load_average())
        rows[f"node-{backend}-{precision}"] = {
            "label": f"{backend} {precision}", "command": "bench-node",
            "checkpoints": [DEFAULT_MODEL_PATH], "metrics": result}
    return rows


def replay_rows(work: Path, alone_ms: dict[str, float]) -> dict[str, dict[str, Any]]:
    """`uncertainty-seg replay` of the demo drive per variant: wall over inference time.

    Over two inference times: the network's own time inside the replay (which the replay's
    background writing and evaluating slow down on a small CPU), and the frames times the
    variant's network-alone median of the bench cell at 168x224 and 2 threads (`alone_ms`).
    """
    from uncertainty_seg_node.bags import topics
    from uncertainty_seg_node.ros_drivers.demo_drive import DemoOptions, make_sample_drive

    share = resolve_model_path("config/params.yaml")
    bag = work / "sample_drive"
    if not bag.exists():
        make_sample_drive(DemoOptions(model=resolve_model_path(DEFAULT_MODEL_PATH),
                                      params_file=share, out=work))
    rows = {}
    for backend, precision in VARIANTS:
        report = work / f"replay-{backend}-{precision}"
        out = work / f"replay-{backend}-{precision}.mcap"
        for path in (report, out):
            subprocess.run(["rm", "-rf", str(path)], check=True)
        before = load_average()
        start = time.perf_counter()
        _run(["uncertainty-seg", "replay", "--bag", str(bag), "--model", DEFAULT_MODEL_PATH,
              "--image-topic", topics.IMAGE_TOPIC, "--label-topic", topics.LABEL_TOPIC,
              "--backend", backend, "--precision", precision, "--out", str(out),
              "--report", str(report), "--no-progress"])
        wall = time.perf_counter() - start
        facts = json.loads((report / "metrics.json").read_text())["run"]
        network_s = facts["ms_per_frame"]["network"] * facts["frames"] / 1e3
        alone = alone_ms.get(f"{backend}:{precision}")
        alone_s = alone * facts["frames"] / 1e3 if alone else None
        rows[f"replay-{backend}-{precision}"] = {
            "label": f"{backend} {precision}", "command": "replay",
            "checkpoints": [DEFAULT_MODEL_PATH], "metrics": {
                "frames": facts["frames"], "network_s": network_s,
                "network_alone_s": alone_s, "loop_wall_s": facts["wall_s"],
                "command_wall_s": wall,
                "loop_over_network": facts["wall_s"] / network_s,
                "loop_over_network_alone": facts["wall_s"] / alone_s if alone_s else None,
                "command_over_network_alone": wall / alone_s if alone_s else None,
                "ms_per_frame": facts["ms_per_frame"],
                "load_before": before, "load_after": load_average()}}
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("runs/speed_backends"))
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--frames", type=int, default=60, help="bench-node frames per variant")
    parser.add_argument("--parts", default="bench,node,replay")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--allow-dirty", action="store_true")
    parser.add_argument("--note", default="", help="what else ran on the machine")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    parts = set(args.parts.split(","))
    before = os.getloadavg()
    files = _models(args.work)
    rows: dict[str, dict[str, Any]] = {}
    if "bench" in parts:
        rows.update(bench_cells(files, args.iters))
    if "node" in parts:
        rows.update(node_rows(args.frames))
    if "replay" in parts:
        cell = rows.get(f"bench-{SIZES[0][0]}x{SIZES[0][1]}-t2", {}).get("metrics", {})
        alone_ms = {name: entry["stages"]["network_alone"]["median_ms"]
                    for name, entry in cell.get("backends", {}).items()}
        rows.update(replay_rows(args.work, alone_ms))
    text = json.dumps(rows, indent=1, default=str)
    (args.work / "rows.json").write_text(text + "\n")
    if args.record:
        import openvino

        from studies.results import write_result

        print(write_result(
            "speed_backends", merge=True, allow_dirty=args.allow_dirty,
            load_before=before, cpu=cpu_info().to_dict(),
            openvino=str(openvino.get_version()),
            about="the CPU backends side by side: ONNX Runtime fp32/int8, OpenVINO "
                  "fp32/bf16/int8; network alone, node end to end, replay; each precision's "
                  "shipping gate",
            dataset="the default model (models/default.delta.safetensors) at 168x224 and "
                    "exported at 336x448; a 480x640 bgr8 camera image; the demo drive",
            commands={"bench": "python -m studies.speed_backends --parts bench",
                      "bench-node": "python -m studies.speed_backends --parts node",
                      "replay": "python -m studies.speed_backends --parts replay"},
            rows=rows,
            note="interleaved per (size, threads) cell; bench-node and replay one variant "
                 f"after another. {args.note}".strip()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
