"""`uncertainty-seg evaluate`: metrics of a model (checkpoint, ONNX, delta, engine) on labels.

Run a model over a labelled dataset and report mIoU, misclassification detection (MaxF0.5 @
p(a,c), AUPR, AUROC, FPR95), calibration (ECE, MCE), uncertainty-error Dice and, where anomaly
masks exist, anomaly AUROC / AP / FPR95.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.cli import arguments
from uncertainty_seg_node.config import SCORE_METHODS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `evaluate`."""
    arguments.add_model(parser)
    arguments.add_labelled_data(
        parser, help="labelled dataset folder (Cityscapes format, or images/ + labels/ with a "
        "class map)", split="val, test")
    arguments.add_json_out(parser, help="write every figure to this JSON file")
    arguments.add_backend_device(parser)
    parser.add_argument("--score", choices=SCORE_METHODS, default=None,
                        help="uncertainty score (default: the model's own)")
    arguments.add_gamma(parser, help="gamma for the at-gamma figures (default: the model's own)")
    arguments.add_max_frames(parser)
    parser.add_argument("--curves", type=Path,
                        help="also write the PR / F0.5 / reliability curves (.npz)")
    arguments.add_no_progress(parser)


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the JSON (and curves), print a short table."""
    from uncertainty_seg_node.data.labelled import open_labelled_for_model
    from uncertainty_seg_node.evaluation import evaluate_predictor
    from uncertainty_seg_node.inference.factory import load_predictor
    from uncertainty_seg_node.metrics import to_jsonable

    model_path = Path(args.model)
    predictor = load_predictor(
        model_path, backend=args.backend, device=args.device, score_method=args.score,
        precision=args.precision,
    )
    dataset = open_labelled_for_model(args.data, predictor.config.class_names,
                                      classes_yaml=args.classes, split=args.split)
    result = evaluate_predictor(predictor, dataset, gamma=args.gamma,
                                progress=not args.no_progress, max_frames=args.max_frames,
                                model=model_path, curves=bool(args.curves))
    curves: dict[str, Any] | None = result.pop("curves", None)
    result["data"] = str(args.data)
    # The training stage (task: f_theta, uncertainty: f_phi), so a table names the model.
    result["stage"] = (predictor.config.provenance or {}).get("stage")
    if args.json:
        atomic_write(args.json, json.dumps(to_jsonable(result), indent=2, allow_nan=False) + "\n")
    if curves is not None:
        args.curves.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.curves, **curves)
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
