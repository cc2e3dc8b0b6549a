"""Frames worth labelling: rank a bag's frames by image-level uncertainty (seed 001).

Per frame the two scores of `image_scores` are computed (mean of 1 - confidence, and the UAAL
mean of its square); the top-K frames by the chosen one are kept (their images only, a bounded
heap) and written as PNGs with a CSV / JSON of every frame's scores. When the frames carry
labels, the frame error rate is recorded too and the Spearman rank correlation between each
score and the error rate says whether the ranking puts frames with more errors first.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.replay.frames import SourceFrame
from uncertainty_seg_node.replay.image_scores import IMAGE_SCORES, image_uncertainties, spearman


@dataclass
class FrameScore:
    """One frame's image-level scores (and error rate when labelled)."""

    index: int
    name: str
    stamp_ns: int | None
    domain: str
    uncertainty_mean: float
    uncertainty_uaal: float
    error_rate: float = float("nan")

    def score(self, method: str) -> float:
        """The score `method` ('mean' or 'uaal') ranks by."""
        return self.uncertainty_mean if method == "mean" else self.uncertainty_uaal


@dataclass(order=True)
class _Kept:
    score: float
    order: int  # earlier frames win ties (negated index)
    record: FrameScore = field(compare=False)
    image: np.ndarray = field(compare=False, repr=False)
    confidence: np.ndarray = field(compare=False, repr=False)


@dataclass
class Ranking:
    """Every frame's scores and the top-K frames with their images, best (most uncertain) first."""

    method: str
    frames: list[FrameScore]
    top: list[tuple[FrameScore, np.ndarray, np.ndarray]]  # (record, image, confidence)

    def correlation(self) -> dict[str, Any]:
        """Spearman between each score and the frame error rate over the labelled frames."""
        labelled = [f for f in self.frames if np.isfinite(f.error_rate)]
        errors = np.array([f.error_rate for f in labelled])
        return {
            "labelled_frames": len(labelled),
            "spearman_mean": spearman(np.array([f.uncertainty_mean for f in labelled]), errors)
            if len(labelled) > 1 else float("nan"),
            "spearman_uaal": spearman(np.array([f.uncertainty_uaal for f in labelled]), errors)
            if len(labelled) > 1 else float("nan"),
        }


def rank_frames(
    predictor: Any,
    frames: Iterable[SourceFrame],
    *,
    top_k: int = 20,
    method: str = "uaal",
    gamma: float | None = None,
    progress: Any = None,
) -> Ranking:
    """Predict every frame, score it, keep the top-K (bounded memory: K images)."""
    if method not in IMAGE_SCORES:
        raise UserError(f"unknown --score {method!r}; choose one of {IMAGE_SCORES}")
    if top_k < 1:
        raise UserError(f"--top must be at least 1, got {top_k}")
    ignore = predictor.config.ignore_index
    records: list[FrameScore] = []
    heap: list[_Kept] = []
    for frame in frames:
        prediction = predictor.predict(frame.image, encoding="rgb8", gamma=gamma)
        mean, uaal = image_uncertainties(prediction.confidence)
        record = FrameScore(frame.index, frame.name, frame.stamp_ns, frame.domain, mean, uaal)
        if frame.labels is not None:
            valid = frame.labels != ignore
            if valid.any():
                record.error_rate = float(
                    np.mean(prediction.class_ids[valid] != frame.labels[valid]))
        records.append(record)
        kept = _Kept(record.score(method), -frame.index, record, frame.image,
                     prediction.confidence)
        if len(heap) < top_k:
            heapq.heappush(heap, kept)
        elif kept > heap[0]:
            heapq.heapreplace(heap, kept)
        if progress is not None:
            progress.update(1)
    if not records:
        raise UserError("no frame to rank: the image topic is empty")
    top = [(k.record, k.image, k.confidence) for k in sorted(heap, reverse=True)]
    return Ranking(method, records, top)


def write_ranking(ranking: Ranking, out_dir: str | Path) -> dict[str, Any]:
    """ranking.csv (every frame, most uncertain first), top_k.json, frames/*.png, a plot."""
    from uncertainty_seg_node.replay.plots import plot_scatter, write_png
    from uncertainty_seg_node.replay.report import write_frames_csv
    from uncertainty_seg_node.visualize import colorize_confidence

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ordered = sorted(ranking.frames, key=lambda f: (-f.score(ranking.method), f.index))
    write_frames_csv(out / "ranking.csv",
                     [{"rank": r + 1, **asdict(f)} for r, f in enumerate(ordered)])
    top = []
    for rank, (record, image, confidence) in enumerate(ranking.top, start=1):
        stem = f"rank_{rank:03d}_{record.stamp_ns if record.stamp_ns is not None else record.name}"
        image_path = write_png(out / "frames" / f"{stem}.png", image)
        write_png(out / "uncertainty" / f"{stem}.png", colorize_confidence(confidence))
        top.append({"rank": rank, "score": record.score(ranking.method),
                    "image": image_path.relative_to(out).as_posix(), **asdict(record)})
    document: dict[str, Any] = {"score": ranking.method, "frames": len(ranking.frames),
                                "top_k": top, **ranking.correlation()}
    from uncertainty_seg_node.metrics import to_jsonable

    atomic_write(out / "top_k.json", json.dumps(to_jsonable(document), indent=2) + "\n")
    labelled = [f for f in ranking.frames if np.isfinite(f.error_rate)]
    if len(labelled) > 1:
        plot_scatter(np.array([f.score(ranking.method) for f in labelled]),
                     np.array([f.error_rate for f in labelled]), out / "score_vs_error.png",
                     xlabel=f"image uncertainty ({ranking.method})", ylabel="frame error rate",
                     title=f"Spearman {document[f'spearman_{ranking.method}']:.3f}")
    return document
