"""`uncertainty-seg evaluate`: metrics of a model (checkpoint, ONNX or engine) on labelled data."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.classes import CITYSCAPES_CLASSES
from uncertainty_seg_node.config import SCORE_METHODS
from uncertainty_seg_node.gamma import check_gamma
from uncertainty_seg_node.runtime import BACKENDS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the `evaluate` subcommand."""
    parser = subparsers.add_parser(
        "evaluate",
        help="metrics of a model on a labelled dataset",
        description="Run a model over a labelled dataset and report mIoU, misclassification "
        "detection (MaxF0.5 @ p(a,c), AUPR, AUROC, FPR95), calibration (ECE, MCE), "
        "uncertainty-error Dice and, where anomaly masks exist, anomaly AUROC / AP / FPR95.",
    )
    parser.add_argument("--model", required=True,
                        help="checkpoint (.pt), .onnx file or TensorRT engine")
    parser.add_argument("--data", required=True, help="labelled dataset folder (Cityscapes "
                        "format, or images/ + labels/ with a class map)")
    parser.add_argument("--json", help="write every figure to this JSON file")
    parser.add_argument("--classes", help="class-map YAML of the labels")
    parser.add_argument("--split", help="dataset split to use (e.g. val, test)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="inference backend (default: from the model file's type)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--score", choices=SCORE_METHODS, default=None,
                        help="uncertainty score (default: the model's own)")
    parser.add_argument("--gamma", type=float, default=None,
                        help="gamma for the at-gamma figures (default: the model's default)")
    parser.add_argument("--max-frames", type=int, default=None, help="evaluate at most N frames")
    parser.add_argument("--curves", help="also write the PR / F0.5 / reliability curves (.npz)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the JSON (and curves), print a short table."""
    from uncertainty_seg_node.data import open_labelled
    from uncertainty_seg_node.evaluation import evaluate_predictor
    from uncertainty_seg_node.inference.factory import load_predictor
    from uncertainty_seg_node.metrics import to_jsonable

    if args.gamma is not None:
        check_gamma(args.gamma, "--gamma")
    model_path = Path(args.model)
    dataset = open_labelled(args.data, classes_yaml=args.classes, split=args.split)
    predictor = load_predictor(
        model_path, backend=args.backend, device=args.device, score_method=args.score
    )
    if (
        tuple(predictor.config.class_names) == CITYSCAPES_CLASSES
        and tuple(dataset.class_names) != CITYSCAPES_CLASSES
    ):
        # A Cityscapes-space model on a dataset with its own class map (e.g. CamVid): compare
        # in the Cityscapes train ids, through the map's `cityscapes_train_id` entries.
        dataset = open_labelled(
            args.data, classes_yaml=args.classes, split=args.split, to_cityscapes=True
        )
    result = evaluate_predictor(predictor, dataset, gamma=args.gamma,
                                progress=not args.no_progress, max_frames=args.max_frames,
                                model=model_path, curves=bool(args.curves))
    curves: dict[str, Any] | None = result.pop("curves", None)
    result["data"] = str(args.data)
    if args.json:
        atomic_write(args.json, json.dumps(to_jsonable(result), indent=2, allow_nan=False) + "\n")
    if curves is not None:
        curves_path = Path(args.curves)
        curves_path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(curves_path, **curves)
    print(format_table(result))
    if args.json:
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def format_table(result: dict[str, Any]) -> str:
    """A short human-readable summary of an evaluation result."""
    lines = [
        f"model {result.get('model')} ({result.get('backend')}, score "
        f"{result.get('score_method')}): {result['frames']} frames, "
        f"{result['num_pixels']} labelled pixels",
        f"  mIoU              {_f(result['miou'])}   pixel accuracy {_f(result['accuracy'])}",
        f"  MaxF0.5 @ p(a,c)  {_f(result['maxf05'])} @ {_f(result['p_ac_at_maxf05'])}"
        f"   (gamma {_f(result['gamma_at_maxf05'], 4)})",
        f"  AUPR {_f(result['aupr'])}   AUROC {_f(result['auroc'])}   "
        f"FPR95 {_f(result['fpr95'])}",
        f"  ECE  {_f(result['ece'])}   MCE {_f(result['mce'])}",
        f"  at gamma {_f(result['gamma'], 4)} ({result['gamma_source']}): certain "
        f"{_f(result['certain_fraction'])}, precision {_f(result['precision_at_gamma'])}, "
        f"recall {_f(result['recall_at_gamma'])}, Dice(uncertain, error) {_f(result['dice'])}",
    ]
    if "anomaly_auroc" in result:
        lines.append(
            f"  anomaly: AUROC {_f(result['anomaly_auroc'])}   AP {_f(result['anomaly_ap'])}"
            f"   FPR95 {_f(result['anomaly_fpr95'])}   ({result['anomaly_pixels']} pixels)"
        )
    return "\n".join(lines)
