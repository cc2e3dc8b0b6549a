"""Live evaluation on a vehicle: the node's outputs + labels during `ros2 bag play`.

It accumulates the same streaming evaluation as `replay` and writes the same report.

The pairing of topics (`LiveSynchronizer`) is plain Python and tested without ROS; the
subscribing side, `ros_drivers.live.run_live`, is the one that touches rclpy.

Frames are matched by header stamp: a frame is evaluated once its segmentation, confidence,
certain mask and labels (and the anomaly mask, when that topic is given) have all arrived. The
certain mask is the node's own `~/certain_mask`, never recomputed here, so a run-time
`ros2 param set ... gamma` on the node is what the evaluation sees. Incomplete stamps are
dropped (and counted) once `window` newer stamps have been seen, so memory stays bounded. The
domain of a frame is the latest std_msgs/String received on the domain topic when the frame
completes (the String has no header). The node's outputs come an inference later than the
bag's domain message of the same frame, so this is right except, at worst, for a frame at a
domain change when the player runs far ahead of the node.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.image_codec import raw
from uncertainty_seg_node.image_codec.encodings import to_rgb
from uncertainty_seg_node.replay.evaluation import UNKNOWN_DOMAIN, ReplayEvaluation
from uncertainty_seg_node.replay.ground_truth import check_train_ids

_EVALUATED = ("mono8", "8UC1", "rgb8", "bgr8", "32FC1")


@dataclass
class LiveOptions:
    """Topics to listen to and when to stop."""

    namespace: str = "/uncertainty_seg_node"
    label_topic: str = "/camera/labels"
    anomaly_topic: str | None = None
    domain_topic: str | None = "/camera/domain"
    image_topic: str | None = None  # the camera, for example panels in the report
    gamma: float = 0.5  # the model's; the per-frame certain mask is the node's own
    duration_s: float | None = None  # stop after this long
    idle_timeout_s: float | None = None  # stop when nothing arrived for this long (or since start)
    window: int = 64
    domain_id: int | None = None


def message_array(msg: Any) -> np.ndarray:
    """A sensor_msgs/Image (mono8 / 8UC1 / rgb8 / bgr8 / 32FC1) as a numpy array; bgr8 -> RGB."""
    array, encoding = raw.message_array(msg, encodings=_EVALUATED)
    return to_rgb(array, encoding) if encoding == "bgr8" else array


@dataclass
class _Pending:
    parts: dict[str, np.ndarray] = field(default_factory=dict)


class LiveSynchronizer:
    """Pairs the topics of one frame by stamp and feeds complete frames to the evaluation."""

    REQUIRED = ("segmentation", "confidence", "certain_mask", "labels")

    def __init__(self, evaluation: ReplayEvaluation, *, with_anomaly: bool = False,
                 window: int = 64) -> None:
        self.evaluation = evaluation
        self.required = self.REQUIRED + (("anomaly",) if with_anomaly else ())
        self.window = window
        self._pending: OrderedDict[int, _Pending] = OrderedDict()
        self._done: OrderedDict[int, None] = OrderedDict()
        self.domain = UNKNOWN_DOMAIN
        self.dropped = 0
        self.last_arrival = 0.0
        self.lock = threading.Lock()

    def add(self, kind: str, stamp_ns: int, array: np.ndarray) -> bool:
        """One message; returns True when it completed a frame (which is then evaluated)."""
        with self.lock:
            self.last_arrival = time.monotonic()
            if stamp_ns in self._done:
                return False  # duplicates after evaluation (e.g. a re-sent message)
            pending = self._pending.get(stamp_ns)
            if pending is None:
                pending = self._pending[stamp_ns] = _Pending()
                while len(self._pending) > self.window:
                    self._pending.popitem(last=False)
                    self.dropped += 1
            pending.parts[kind] = array
            if not all(k in pending.parts for k in self.required):
                return False
            del self._pending[stamp_ns]
            self._done[stamp_ns] = None
            while len(self._done) > 4 * self.window:
                self._done.popitem(last=False)
            self._evaluate(stamp_ns, pending)
            return True

    def set_domain(self, text: str) -> None:
        """The domain of frames completed from now on."""
        with self.lock:
            self.domain = text

    def _evaluate(self, stamp_ns: int, pending: _Pending) -> None:
        parts = pending.parts
        ids, conf = parts["segmentation"], parts["confidence"].astype(np.float32, copy=False)
        where = f"label message at stamp {stamp_ns}"
        if parts["labels"].shape != ids.shape:
            raise ValueError(f"{where} is {parts['labels'].shape} but the segmentation is "
                             f"{ids.shape}; labels must have the image's size")
        labels = check_train_ids(parts["labels"], self.evaluation.num_classes, where)
        anomaly = parts["anomaly"] > 0 if "anomaly" in parts else None
        self.evaluation.add(
            index=len(self.evaluation.frames), stamp_ns=stamp_ns, image=parts.get("image"),
            class_ids=ids, confidence=conf, certain=parts["certain_mask"] > 0,
            labels=labels, anomaly=anomaly, domain=self.domain)

    def finish(self) -> int:
        """Count the incomplete frames still waiting; returns all dropped so far."""
        with self.lock:
            self.dropped += len(self._pending)
            self._pending.clear()
            return self.dropped


def write_live_report(evaluation: ReplayEvaluation, facts: dict[str, Any],
                      report: str | Path) -> dict[str, Any]:
    """The same report as `replay` writes."""
    from uncertainty_seg_node.replay.report import write_report

    warnings = []
    if not evaluation.frames:
        warnings.append("no complete frame (segmentation + confidence + labels) was received")
    if facts.get("incomplete_frames_dropped"):
        warnings.append(f"{facts['incomplete_frames_dropped']} frames missed a topic")
    return write_report(report, evaluation, facts=facts, warnings=warnings,
                        title="Live evaluation")
