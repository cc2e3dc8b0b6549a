"""Live evaluation on a vehicle: the node's outputs + labels during `ros2 bag play`.

It accumulates the same streaming evaluation as `replay` and writes the same report.

The pairing of topics (`LiveSynchronizer`) is plain Python and tested without ROS; only
`run_live` touches rclpy, imported inside it (this is the one module outside
`uncertainty_seg_node/ros/` allowed to, and only lazily).

Frames are matched by header stamp: a frame is evaluated once its segmentation, confidence and
labels (and the anomaly mask, when that topic is given) have all arrived. Incomplete stamps are
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

from uncertainty_seg_node.replay.evaluation import UNKNOWN_DOMAIN, ReplayEvaluation
from uncertainty_seg_node.replay.ground_truth import check_train_ids

_DTYPES = {"mono8": (np.uint8, 1), "8UC1": (np.uint8, 1), "rgb8": (np.uint8, 3),
           "bgr8": (np.uint8, 3), "32FC1": (np.float32, 1)}


@dataclass
class LiveOptions:
    """Topics to listen to and when to stop."""

    namespace: str = "/uncertainty_seg_node"
    label_topic: str = "/camera/labels"
    anomaly_topic: str | None = None
    domain_topic: str | None = "/camera/domain"
    image_topic: str | None = None  # the camera, for example panels in the report
    gamma: float = 0.5  # the node's gamma (certain = confidence > gamma)
    duration_s: float | None = None  # stop after this long
    idle_timeout_s: float | None = None  # stop when nothing arrived for this long (after 1 frame)
    window: int = 64
    domain_id: int | None = None


def message_array(msg: Any) -> np.ndarray:
    """A sensor_msgs/Image (mono8 / 8UC1 / rgb8 / bgr8 / 32FC1) as a numpy array (honours step)."""
    encoding = str(msg.encoding)
    if encoding not in _DTYPES:
        raise ValueError(f"unsupported encoding {encoding!r} on an evaluated topic")
    dtype, channels = _DTYPES[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    row = width * channels * np.dtype(dtype).itemsize
    raw = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    rows = raw[: height * step].reshape(height, step)[:, :row]
    array = np.ascontiguousarray(rows).view(dtype)
    array = array.reshape((height, width, channels) if channels > 1 else (height, width))
    if encoding == "bgr8":
        array = array[..., ::-1]
    return array


@dataclass
class _Pending:
    parts: dict[str, np.ndarray] = field(default_factory=dict)


class LiveSynchronizer:
    """Pairs the topics of one frame by stamp and feeds complete frames to the evaluation."""

    REQUIRED = ("segmentation", "confidence", "labels")

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
            class_ids=ids, confidence=conf, certain=conf > self.evaluation.gamma,
            labels=labels, anomaly=anomaly, domain=self.domain)

    def finish(self) -> int:
        """Count the incomplete frames still waiting; returns all dropped so far."""
        with self.lock:
            self.dropped += len(self._pending)
            self._pending.clear()
            return self.dropped


def run_live(evaluation: ReplayEvaluation, options: LiveOptions,
             stop: threading.Event | None = None) -> dict[str, Any]:
    """Subscribe and evaluate until Ctrl-C, `stop`, the duration or the idle timeout.

    Returns run facts (frames, dropped, why it stopped); the caller writes the report.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    sync = LiveSynchronizer(evaluation, with_anomaly=bool(options.anomaly_topic),
                            window=options.window)
    stop = stop or threading.Event()
    context = rclpy.Context()
    init_kwargs: dict[str, Any] = {"args": []}
    if options.domain_id is not None:
        init_kwargs["domain_id"] = options.domain_id
    context.init(**init_kwargs)
    node = rclpy.create_node("uncertainty_seg_live_eval", context=context, enable_rosout=False)
    qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    errors: list[str] = []

    def on_image(kind: str) -> Any:
        def callback(msg: Any) -> None:
            stamp = int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)
            try:
                sync.add(kind, stamp, message_array(msg))
            except ValueError as exc:  # a bad message is reported, not fatal to the run
                errors.append(str(exc))
        return callback

    ns = options.namespace.rstrip("/")
    topics = {"segmentation": f"{ns}/segmentation", "confidence": f"{ns}/confidence",
              "labels": options.label_topic}
    if options.anomaly_topic:
        topics["anomaly"] = options.anomaly_topic
    if options.image_topic:
        topics["image"] = options.image_topic
    subs = [node.create_subscription(Image, topic, on_image(kind), qos)
            for kind, topic in topics.items()]
    if options.domain_topic:
        subs.append(node.create_subscription(
            String, options.domain_topic, lambda msg: sync.set_domain(str(msg.data)), qos))
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    start = time.monotonic()
    reason = "stopped"
    try:
        while context.ok() and not stop.is_set():
            executor.spin_once(timeout_sec=0.1)
            now = time.monotonic()
            if options.duration_s is not None and now - start >= options.duration_s:
                reason = f"duration {options.duration_s:g} s reached"
                break
            if (options.idle_timeout_s is not None and evaluation.frames
                    and now - sync.last_arrival >= options.idle_timeout_s):
                reason = f"no message for {options.idle_timeout_s:g} s"
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        reason = "interrupted"
    finally:
        executor.shutdown()
        node.destroy_node()
        if context.ok():
            context.shutdown()
    dropped = sync.finish()
    return {"mode": "live", "topics": topics, "domain_topic": options.domain_topic,
            "frames": len(evaluation.frames), "labelled_frames": evaluation.labelled_frames,
            "incomplete_frames_dropped": dropped, "stopped": reason,
            "wall_s": round(time.monotonic() - start, 3), "message_errors": errors[:10]}


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
