"""Per ground-truth class: what a model calls each class, and how much of it it calls certain.

    python -m studies.class_breakdown --model M.pt --data FRAMES [--classes YAML] [--gamma G] \
        [--backend B] --json OUT.json

For every class in the labels of FRAMES: its share of the labelled pixels, the model's accuracy
on it, the class the model predicts most there (and how often), the share of its pixels in the
certain mask at the model's γ (what a planner is handed), and the precision of those certain
pixels (how many of them are right). The off-road study of docs/experiments/unseen.md runs it
on the unseen off-road frames for f_θ and f_φ, to see where L_c teaches confidence in wrong
labels: on classes the source never showed, or on classes it confuses. The labels are read in
the model's classes as `uncertainty-seg evaluate` reads them (a Cityscapes-space model through
the class map's `cityscapes_train_id`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

IGNORE = 255


def class_counts(labels: np.ndarray, predicted: np.ndarray, certain: np.ndarray,
                 num_classes: int) -> np.ndarray:
    """Counts (num_classes, num_classes, 2): [true class, predicted class, certain or not].

    Pixels labelled IGNORE (or any id >= num_classes) are left out.
    """
    keep = labels < num_classes
    t = labels[keep].astype(np.int64)
    p = np.minimum(predicted[keep].astype(np.int64), num_classes - 1)
    c = certain[keep].astype(np.int64)
    flat = np.bincount((t * num_classes + p) * 2 + c, minlength=num_classes * num_classes * 2)
    return flat.reshape(num_classes, num_classes, 2)


def breakdown(counts: np.ndarray, names: list[str]) -> dict[str, dict[str, Any]]:
    """Per true class present in COUNTS (see `class_counts`): its figures.

    Share of the labelled pixels, accuracy, top prediction, certain fraction and the precision
    of its certain pixels (None when none is certain).
    """
    total = counts.sum()
    out: dict[str, dict[str, Any]] = {}
    for k, name in enumerate(names):
        row = counts[k]  # (predicted, certain)
        pixels = int(row.sum())
        if pixels == 0:
            continue
        per_pred = row.sum(axis=1)
        top = int(np.argmax(per_pred))
        certain = int(row[:, 1].sum())
        out[name] = {
            "share": pixels / total,
            "accuracy": float(per_pred[k]) / pixels,
            "top_prediction": names[top],
            "top_prediction_share": float(per_pred[top]) / pixels,
            "certain_fraction": certain / pixels,
            "certain_precision": float(row[k, 1]) / certain if certain else None,
        }
    return out


def measure(model: Path, data: Path, gamma: float | None,
            classes: Path | None = None, backend: str = "auto") -> dict[str, Any]:
    """The breakdown of MODEL on every labelled frame under DATA (labels of class map CLASSES)."""
    from uncertainty_seg_node.data.labelled import open_labelled_for_model
    from uncertainty_seg_node.inference.factory import load_predictor

    predictor = load_predictor(model, backend=backend)
    config = predictor.config
    dataset = open_labelled_for_model(data, config.class_names, classes_yaml=classes)
    used = config.default_gamma if gamma is None else gamma
    counts = np.zeros((config.num_classes, config.num_classes, 2), dtype=np.int64)
    frames = 0
    for sample in dataset:
        prediction = predictor.predict(sample.image, encoding="rgb8", gamma=used)
        counts += class_counts(sample.labels, prediction.class_ids, prediction.certain,
                               config.num_classes)
        frames += 1
    right = np.trace(counts.sum(axis=2))
    certain_right = np.trace(counts[:, :, 1])
    return {"frames": frames, "gamma": used, "accuracy": float(right / counts.sum()),
            "certain_fraction": float(counts[:, :, 1].sum() / counts.sum()),
            "certain_precision": float(certain_right / max(counts[:, :, 1].sum(), 1)),
            "classes": breakdown(counts, list(config.class_names))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="checkpoint, delta or ONNX")
    parser.add_argument("--data", type=Path, required=True, help="labelled frames")
    parser.add_argument("--classes", type=Path, default=None,
                        help="class map of the labels (default: a classes.yaml beside them)")
    parser.add_argument("--gamma", type=float, default=None, help="default: the model's γ")
    parser.add_argument("--backend", default="auto", help="inference backend (default auto)")
    parser.add_argument("--json", type=Path, required=True, help="where the figures go")
    args = parser.parse_args(argv)
    figures = measure(args.model, args.data, args.gamma, args.classes, args.backend)
    args.json.write_text(json.dumps(figures, indent=1))
    for name, row in sorted(figures["classes"].items(), key=lambda kv: -kv[1]["share"]):
        precision = row["certain_precision"]
        print(f"{name:>14}: {row['share']:.3f} of pixels, accuracy {row['accuracy']:.3f}, "
              f"mostly called {row['top_prediction']} ({row['top_prediction_share']:.2f}), "
              f"certain {row['certain_fraction']:.2f} at precision "
              f"{'—' if precision is None else f'{precision:.3f}'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
