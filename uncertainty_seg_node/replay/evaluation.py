"""The streaming evaluation state shared by the bag replay and the live mode.

Per frame it keeps only a small record (stamp, domain, a few fractions); pixels go into one
fixed-size `Evaluator` per domain; a handful of example panels are kept as small RGB arrays.
Memory therefore stays flat over thousands of frames.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from uncertainty_seg_node.metrics import Evaluator, frame_summary
from uncertainty_seg_node.replay.image_scores import image_uncertainties
from uncertainty_seg_node.replay.plots import example_panel

OVERALL = "overall"
UNKNOWN_DOMAIN = ""


@dataclass
class FrameRecord:
    """What is kept of one frame (CSV row of the report)."""

    index: int
    stamp_ns: int
    domain: str
    labelled: bool
    certain_fraction: float
    mean_confidence: float
    uncertainty_mean: float  # mean(1 - confidence)
    uncertainty_uaal: float  # mean((1 - confidence) ** 2), UAAL exponent 2
    error_rate: float  # over labelled (non-ignore) pixels; NaN when unlabelled
    certain_accuracy: float
    predict_ms: float = float("nan")


@dataclass(order=True)
class _Example:
    score: float
    index: int
    caption: str = field(compare=False)
    panel: np.ndarray = field(compare=False, repr=False)


class ReplayEvaluation:
    """Accumulates metrics (per domain), frame records and example panels."""

    def __init__(
        self,
        num_classes: int,
        palette: Sequence[Sequence[int]],
        *,
        class_names: Sequence[str] | None = None,
        ignore_index: int = 255,
        gamma: float = 0.5,
        examples_per_domain: int = 2,
        panel_width: int = 320,
    ) -> None:
        self.num_classes = num_classes
        self.palette = palette
        self.class_names = tuple(class_names) if class_names is not None else None
        self.ignore_index = ignore_index
        self.gamma = float(gamma)
        self.examples_per_domain = examples_per_domain
        self.panel_width = panel_width
        self.evaluators: dict[str, Evaluator] = {}
        self.frames: list[FrameRecord] = []
        self._examples: dict[str, list[_Example]] = {}
        self._first_example: _Example | None = None

    # -- accumulation ------------------------------------------------------------------------
    def add(
        self,
        *,
        index: int,
        stamp_ns: int,
        image: np.ndarray | None,
        class_ids: np.ndarray,
        confidence: np.ndarray,
        certain: np.ndarray,
        labels: np.ndarray | None = None,
        anomaly: np.ndarray | None = None,
        domain: str = UNKNOWN_DOMAIN,
        predict_ms: float = float("nan"),
    ) -> FrameRecord:
        """Add one frame; `labels` None means unlabelled (only the frame record is kept)."""
        summary = frame_summary(class_ids, confidence, labels, self.gamma, self.ignore_index,
                                certain=certain)
        uncertainty_mean, uncertainty_uaal = image_uncertainties(confidence)
        if labels is not None:
            evaluator = self.evaluators.get(domain)
            if evaluator is None:
                evaluator = self.evaluators[domain] = self._new_evaluator()
            evaluator.update(class_ids, confidence, labels, anomaly)
        record = FrameRecord(
            index=index,
            stamp_ns=int(stamp_ns),
            domain=domain,
            labelled=labels is not None,
            certain_fraction=summary["certain_fraction"],
            mean_confidence=summary["mean_confidence"],
            uncertainty_mean=uncertainty_mean,
            uncertainty_uaal=uncertainty_uaal,
            error_rate=summary["error_rate"],
            certain_accuracy=summary["certain_accuracy"],
            predict_ms=float(predict_ms),
        )
        self.frames.append(record)
        if image is not None:
            self._consider_example(record, image, class_ids, confidence, certain, labels)
        return record

    def _new_evaluator(self) -> Evaluator:
        return Evaluator(self.num_classes, self.ignore_index, self.gamma,
                         class_names=self.class_names)

    def _consider_example(
        self,
        record: FrameRecord,
        image: np.ndarray,
        class_ids: np.ndarray,
        confidence: np.ndarray,
        certain: np.ndarray,
        labels: np.ndarray | None,
    ) -> None:
        """Keep the first frame and, per domain, the frames with most errors (or uncertainty)."""
        score = record.error_rate if record.labelled else record.uncertainty_uaal
        score = -1.0 if not np.isfinite(score) else float(score)
        kept = self._examples.setdefault(record.domain, [])
        first = self._first_example is None
        wanted = len(kept) < self.examples_per_domain or (kept and score > kept[0].score)
        if not (first or wanted):
            return  # panels are only built for frames that will be kept
        panel = example_panel(image, class_ids, confidence, certain, self.palette, labels,
                              ignore_index=self.ignore_index, max_width=self.panel_width)
        what = f"error rate {record.error_rate:.3f}" if record.labelled else (
            f"UAAL uncertainty {record.uncertainty_uaal:.3f}")
        domain = f"{record.domain}, " if record.domain else ""
        caption = f"frame {record.index} ({domain}stamp {record.stamp_ns}): {what}"
        example = _Example(score, record.index, caption, panel)
        if first:
            self._first_example = _Example(score, record.index, "first " + caption, panel)
            return
        if len(kept) < self.examples_per_domain:
            heapq.heappush(kept, example)
        else:
            heapq.heapreplace(kept, example)

    # -- results -----------------------------------------------------------------------------
    @property
    def labelled_frames(self) -> int:
        """Frames that had ground truth."""
        return sum(e.frames for e in self.evaluators.values())

    def overall(self) -> Evaluator | None:
        """All domains merged (None when no frame had labels)."""
        if not self.evaluators:
            return None
        merged = self._new_evaluator()
        for evaluator in self.evaluators.values():
            merged.merge(evaluator)
        return merged

    def metrics(self) -> dict[str, Any]:
        """Overall figures (the keys of `evaluate`) plus per-domain ones under "domains".

        "domains" appears when the frames carried a domain; {} when nothing was labelled.
        """
        overall = self.overall()
        if overall is None:
            return {}
        result = overall.compute()
        if any(d != UNKNOWN_DOMAIN for d in self.evaluators):
            result["domains"] = {
                (d or "unknown"): e.compute() for d, e in sorted(self.evaluators.items())
            }
        return result

    def examples(self) -> list[tuple[str, np.ndarray]]:
        """(caption, panel): the first frame, then per domain the worst frames, worst first."""
        out: list[tuple[str, np.ndarray]] = []
        if self._first_example is not None:
            out.append((self._first_example.caption, self._first_example.panel))
        for domain in sorted(self._examples):
            for example in sorted(self._examples[domain], reverse=True):
                out.append((example.caption, example.panel))
        return out

    def frame_rows(self) -> list[dict[str, Any]]:
        """Frame records as dicts (CSV / JSON rows)."""
        return [asdict(f) for f in self.frames]
