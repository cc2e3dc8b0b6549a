"""The CPU cost per step of `train uncertainty` with augmented target views, measured in one run.

    python -m studies.augment_target_cost --teacher THETA.pt --data DAY/train --classes C.yaml
        --unlabelled DUSK/unlabelled --init BACKBONE.onnx [--steps 20] [--set key=value ...]

Trains the same recipe (the model's own, e.g. config/train_uncertainty_vits14.yaml) on the first
`--source-frames` / `--target-frames` frames (sorted names), once with `augment_target=false` and
once with `augment_target=true`, in this process, into a temporary folder. A step's CPU time is
`time.process_time()` (all threads) from the stepper's `step` to its `after_step` (forward,
backward, optimiser); the first `--skip` steps (the source feature cache's first epoch) are left
out of the mean. The encoder's real forwards (`Encoder.lower` calls the feature cache did not
answer) are counted in images and CPU seconds, so a step splits into encoder and the rest.

The projection is for a run of `--project-steps` on `--project-frames` target frames with the
recipe's batches: with `augment_target=true` every step costs what a measured step costs (the
source is cached, the targets never are); with `false` the rest of a step is paid every step
and the encoder only once per target image (the teacher memo) and once per drawn mask-bank entry
(at most frames x mask_bank_size), as in a long run every entry is drawn.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _subset(data: Path, unlabelled: Path, root: Path, n_source: int, n_target: int
            ) -> tuple[Path, Path]:
    """Symlinked folders with the first frames of the labelled and the unlabelled data."""
    source, target = root / "source", root / "target"
    for sub in ("images", "labels"):
        (source / sub).mkdir(parents=True)
    for image in _images(data / "images")[:n_source]:
        labels = [p for p in (data / "labels").glob(image.stem + ".*")]
        if not labels:
            raise SystemExit(f"no label for {image}")
        (source / "images" / image.name).symlink_to(image.resolve())
        (source / "labels" / labels[0].name).symlink_to(labels[0].resolve())
    folder = unlabelled / "images" if (unlabelled / "images").is_dir() else unlabelled
    target.mkdir()
    for image in _images(folder)[:n_target]:
        (target / image.name).symlink_to(image.resolve())
    return source, target


def _run(args: argparse.Namespace, source: Path, target: Path, out: Path, augment_target: bool
         ) -> dict[str, Any]:
    from uncertainty_seg_node.model.encoder import Encoder
    from uncertainty_seg_node.train.config import load_train_config
    from uncertainty_seg_node.train.uncertainty import UncertaintyStepper, train_uncertainty

    flags = {"data": str(source), "classes": args.classes, "unlabelled": str(target),
             "teacher": args.teacher, "init": args.init, "model": args.model, "size": args.size,
             "steps": args.steps, "out": str(out), "quiet": True}
    overrides = [*args.set, f"augment_target={str(augment_target).lower()}"]
    config = load_train_config("uncertainty", None, overrides, flags)
    cpu: list[float] = []
    wall: list[float] = []
    original_step, original_after = UncertaintyStepper.step, UncertaintyStepper.after_step
    original_lower = Encoder.lower
    started: dict[str, float] = {}
    encoder = {"rows": 0.0, "cpu": 0.0}
    per_step: list[tuple[float, float]] = []

    def step(self: Any, *a: Any, **k: Any) -> Any:
        started.update(cpu=time.process_time(), wall=time.perf_counter())
        encoder.update(rows=0.0, cpu=0.0)
        return original_step(self, *a, **k)

    def after_step(self: Any, metrics: dict[str, float]) -> dict[str, float]:
        cpu.append(time.process_time() - started["cpu"])
        wall.append(time.perf_counter() - started["wall"])
        per_step.append((encoder["rows"], encoder["cpu"]))
        return original_after(self, metrics)

    def lower(self: Any, pixel_values: Any, patch_mask: Any = None) -> Any:
        begin = time.process_time()
        try:
            return original_lower(self, pixel_values, patch_mask)
        finally:
            encoder["rows"] += pixel_values.shape[0]
            encoder["cpu"] += time.process_time() - begin

    load_before = os.getloadavg()[0]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    UncertaintyStepper.step = step  # type: ignore[method-assign]
    UncertaintyStepper.after_step = after_step  # type: ignore[method-assign]
    Encoder.lower = lower  # type: ignore[method-assign]
    try:
        result = train_uncertainty(config)
    finally:
        UncertaintyStepper.step = original_step  # type: ignore[method-assign]
        UncertaintyStepper.after_step = original_after  # type: ignore[method-assign]
        Encoder.lower = original_lower  # type: ignore[method-assign]
    kept = cpu[args.skip:]
    rows = sum(r for r, _ in per_step[args.skip:])
    encoder_cpu = sum(c for _, c in per_step[args.skip:])
    per_row = encoder_cpu / rows if rows else None
    rest = (sum(kept) - encoder_cpu) / len(kept)
    if augment_target:
        projected = statistics.mean(kept) * args.project_steps
    else:
        once = args.project_frames * (1 + config.mask_bank_size)
        projected = rest * args.project_steps + once * (per_row or 0.0)
    return {
        "augment_target": augment_target,
        "steps": len(cpu),
        "step_cpu_s_mean": round(statistics.mean(kept), 3),
        "step_cpu_s_median": round(statistics.median(kept), 3),
        "step_wall_s_mean": round(statistics.mean(wall[args.skip:]), 3),
        "first_steps_cpu_s": [round(v, 2) for v in cpu[: args.skip]],
        "encoder_images_per_step": round(rows / len(kept), 2),
        "encoder_cpu_s_per_image": round(per_row, 3) if per_row else None,
        "other_cpu_s_per_step": round(rest, 3),
        "projected_cpu_s": round(projected),
        "run_cpu_s": round(time.process_time() - cpu0, 1),
        "run_wall_s": round(time.perf_counter() - wall0, 1),
        "final_loss": round(result.history[-1]["loss"], 4),
        "load_average_1min": [load_before, os.getloadavg()[0]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--classes", required=True)
    parser.add_argument("--unlabelled", required=True, type=Path)
    parser.add_argument("--init", default=None)
    parser.add_argument("--model", default="vits14")
    parser.add_argument("--size", default=None, help="HxW (default: the teacher's)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--skip", type=int, default=3, help="steps left out of the means")
    parser.add_argument("--source-frames", type=int, default=16)
    parser.add_argument("--target-frames", type=int, default=8)
    parser.add_argument("--project-steps", type=int, default=400)
    parser.add_argument("--project-frames", type=int, default=31, help="target frames")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the report here (python -m studies.results run NAME "
                             "... -- ... --json {json} records it)")
    args = parser.parse_args()
    if args.steps <= args.skip:
        parser.error("--steps must exceed --skip")
    import torch

    with tempfile.TemporaryDirectory(prefix="bench_augment_target_") as tmp:
        root = Path(tmp)
        source, target = _subset(args.data, args.unlabelled, root, args.source_frames,
                                 args.target_frames)
        runs = [_run(args, source, target, root / f"phi_{flag}.pt", flag)
                for flag in (False, True)]
    plain, views = runs
    ratio = views["step_cpu_s_mean"] / plain["step_cpu_s_mean"]
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs, torch threads "
                   f"{torch.get_num_threads()}, no GPU used",
        "frames": {"source": args.source_frames, "target": args.target_frames},
        "set": args.set,
        "runs": runs,
        "step_cpu_ratio_true_over_false": round(ratio, 2),
        "projection": f"{args.project_steps} steps on {args.project_frames} target frames",
        "projected_cpu_ratio_true_over_false": round(
            views["projected_cpu_s"] / plain["projected_cpu_s"], 1),
    }
    print(json.dumps(report, indent=1))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
