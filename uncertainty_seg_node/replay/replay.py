"""Replay a ROS 2 bag through the model: the node's outputs into an MCAP bag, metrics, a report.

The loop streams: one frame is read, predicted, written and evaluated before the next is read,
and only small per-frame records stay in memory. It stops early, keeping everything done so
far, on Ctrl-C (the frame in flight is finished, then the output bag is closed) or on a
truncated input bag (the error names the last good message); the caller then writes the
partial report.
"""

from __future__ import annotations

import bisect
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.inference.base import Predictor
from uncertainty_seg_node.replay.evaluation import UNKNOWN_DOMAIN, FrameRecord, ReplayEvaluation
from uncertainty_seg_node.replay.ground_truth import (
    GroundTruth,
    LabelFolder,
    StampJoiner,
    check_train_ids,
)
from uncertainty_seg_node.visualize import OUTPUT_ENCODINGS, output_images

DEFAULT_NAMESPACE = "/uncertainty_seg_node"


@dataclass
class ReplayOptions:
    """What to replay and where to put it (the `uncertainty-seg replay` arguments)."""

    bag: Path
    image_topic: str
    out: Path | None = None  # output bag (None: evaluate only)
    out_storage: str = "mcap"
    labels: Path | None = None  # Cityscapes-format label folder
    label_match: str = "auto"
    label_topic: str | None = None
    anomaly_topic: str | None = None  # None: `/camera/anomaly` when a label topic is used
    domain_topic: str | None = None  # None: `/camera/domain` when the bag has it; "" = off
    gamma: float | None = None
    namespace: str = DEFAULT_NAMESPACE
    outputs: tuple[str, ...] = tuple(OUTPUT_ENCODINGS)
    copy_input: bool = True
    max_frames: int | None = None
    progress: bool = True
    examples_per_domain: int = 2


@dataclass
class ReplayResult:
    """What a replay did; `evaluation` holds the metrics state for the report."""

    evaluation: ReplayEvaluation
    frames: int = 0
    labelled_frames: int = 0
    first_stamp_ns: int | None = None
    last_stamp_ns: int | None = None
    stopped: str | None = None  # why it ended early (interrupted / truncated bag), else None
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    predict_s: float = 0.0  # inside Predictor.predict (pre + network + post)
    network_s: float = 0.0  # the network alone
    read_s: float = 0.0
    write_s: float = 0.0
    evaluate_s: float = 0.0
    output_messages: int = 0
    sources: dict[str, Any] = field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        """Run figures for metrics.json / index.html (throughput and time shares included)."""
        fps = self.frames / self.wall_s if self.wall_s > 0 else float("nan")
        outside = 1.0 - self.predict_s / self.wall_s if self.wall_s > 0 else float("nan")
        return {
            **self.sources,
            "frames": self.frames,
            "labelled_frames": self.labelled_frames,
            "first_stamp_ns": self.first_stamp_ns,
            "last_good_stamp_ns": self.last_stamp_ns,
            "stopped_early": self.stopped,
            "output_messages": self.output_messages,
            "wall_s": round(self.wall_s, 3),
            "frames_per_s": fps,
            "share_outside_predict": outside,
            "share_outside_network": (
                1.0 - self.network_s / self.wall_s if self.wall_s > 0 else float("nan")
            ),
            "ms_per_frame": {
                "read": _per_frame(self.read_s, self.frames),
                "predict": _per_frame(self.predict_s, self.frames),
                "network": _per_frame(self.network_s, self.frames),
                "write": _per_frame(self.write_s, self.frames),
                "evaluate": _per_frame(self.evaluate_s, self.frames),
            },
        }


@dataclass
class _Sources:
    """Where one frame's ground truth and domain come from, and which topics to copy."""

    folder: LabelFolder | None = None
    labels: StampJoiner[np.ndarray] | None = None
    anomaly: StampJoiner[np.ndarray] | None = None
    domains: DomainTrack | None = None
    label_topic: str = ""
    anomaly_topic: str = ""
    domain_topic: str = ""
    compressed: bool = False


def _per_frame(seconds: float, frames: int) -> float:
    return 1e3 * seconds / frames if frames else float("nan")


class DomainTrack:
    """The domain of each frame from a std_msgs/String topic logged with (or before) it."""

    def __init__(self, entries: list[tuple[int, str]]) -> None:
        entries = sorted(entries)
        self._times = [t for t, _ in entries]
        self._values = [v for _, v in entries]

    def at(self, stamp_ns: int) -> str:
        """The latest domain logged at or before `stamp_ns` ('' if none yet)."""
        i = bisect.bisect_right(self._times, stamp_ns)
        return self._values[i - 1] if i else UNKNOWN_DOMAIN

    def __len__(self) -> int:
        return len(self._times)


def message_count(bag: Path, topic: str) -> int | None:
    """Messages of `topic` according to the bag's metadata (None when unknown)."""
    try:
        from rosbags.rosbag2 import Reader

        with Reader(bag) as reader:
            return sum(c.msgcount for c in reader.connections if c.topic == topic)
    except Exception:  # noqa: BLE001 - only for the progress bar and the label count check
        return None


@contextlib.contextmanager
def stop_on_sigint(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C sets `stop`: the loop finishes its frame and ends cleanly.

    A second Ctrl-C raises KeyboardInterrupt as usual. Only in the main thread; elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _timed(iterator: Iterator[Any], result: ReplayResult) -> Iterator[Any]:
    """Yield from `iterator`, adding the time spent waiting on it to `result.read_s`."""
    while True:
        start = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            result.read_s += time.perf_counter() - start
            return
        result.read_s += time.perf_counter() - start
        yield item


def replay(
    predictor: Predictor,
    options: ReplayOptions,
    *,
    stop: threading.Event | None = None,
    on_frame: Callable[[FrameRecord], None] | None = None,
) -> ReplayResult:
    """Stream the bag through `predictor`; see the module docstring. Never loses written data."""
    from uncertainty_seg_node.bags import bag_io
    from uncertainty_seg_node.bags.topics import ANOMALY_TOPIC, DOMAIN_TOPIC

    bag = Path(options.bag)
    topics = bag_io.list_topics(bag)
    _require_topic(bag, topics, options.image_topic, "image")
    config = predictor.config
    gamma = config.default_gamma if options.gamma is None else float(options.gamma)
    evaluation = ReplayEvaluation(
        config.num_classes, config.palette, class_names=config.class_names,
        ignore_index=config.ignore_index, gamma=gamma,
        examples_per_domain=options.examples_per_domain,
    )
    result = ReplayResult(evaluation)
    count = message_count(bag, options.image_topic)
    sources: dict[str, Any] = {"bag": str(bag), "image_topic": options.image_topic,
                               "model": getattr(predictor, "backend_name", "?"),
                               "gamma": gamma, "bag_messages": count}

    src = _Sources(compressed=topics[options.image_topic].endswith("CompressedImage"))
    if options.labels is not None and options.label_topic:
        raise UserError("give either --labels DIR or --label-topic T, not both")
    if options.labels is not None:
        src.folder = LabelFolder(options.labels, options.label_match)
        src.folder.check_count(count if options.max_frames is None else None)
        sources.update(labels=str(options.labels), label_match=src.folder.match)
    elif options.label_topic:
        _require_topic(bag, topics, options.label_topic, "label")
        src.label_topic = options.label_topic
        src.labels = StampJoiner(
            (m.stamp_ns, m.image) for m in bag_io.read_mono(bag, options.label_topic))
        sources["label_topic"] = options.label_topic
    anomaly_topic = options.anomaly_topic
    if anomaly_topic is None and src.labels is not None and ANOMALY_TOPIC in topics:
        anomaly_topic = ANOMALY_TOPIC
    if anomaly_topic:
        _require_topic(bag, topics, anomaly_topic, "anomaly")
        src.anomaly_topic = anomaly_topic
        src.anomaly = StampJoiner(
            (m.stamp_ns, m.image) for m in bag_io.read_mono(bag, anomaly_topic))
        sources["anomaly_topic"] = anomaly_topic
    domain_topic = options.domain_topic
    if domain_topic is None:
        domain_topic = DOMAIN_TOPIC if DOMAIN_TOPIC in topics else ""
    if domain_topic:
        _require_topic(bag, topics, domain_topic, "domain")
        src.domain_topic = domain_topic
        src.domains = DomainTrack(list(bag_io.read_strings(bag, domain_topic)))
        sources["domain_topic"] = domain_topic
    if src.folder is None and src.labels is None:
        hint = [t for t in topics if t.endswith("/labels")]
        result.warnings.append(
            "no ground truth given: outputs written, no metrics"
            + (f" (the bag has {hint[0]}: pass --label-topic {hint[0]})" if hint else ""))
    sources["out"] = str(options.out) if options.out else None
    result.sources = sources

    stop = stop or threading.Event()
    writer_cm: Any = (bag_io.BagWriter(options.out, options.out_storage)
                      if options.out is not None else contextlib.nullcontext())
    progress = _progress(options.progress, count if options.max_frames is None else
                         min(count or options.max_frames, options.max_frames))
    start = time.perf_counter()
    try:
        with stop_on_sigint(stop), writer_cm as writer:
            frames = _timed(bag_io.read_images(bag, options.image_topic), result)
            try:
                for index, frame in enumerate(frames):
                    _process(frame, index, predictor, options, gamma, result, writer, src,
                             on_frame)
                    progress.update(1)
                    if stop.is_set():
                        result.interrupted = True
                        result.stopped = (f"interrupted after {result.frames} frames (last good "
                                          f"stamp {result.last_stamp_ns} ns)")
                        break
                    if options.max_frames is not None and result.frames >= options.max_frames:
                        break
            except bag_io.BagReadError as exc:
                result.stopped = str(exc)
            except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread
                result.interrupted = True
                result.stopped = f"interrupted after {result.frames} frames"
            if writer is not None:
                result.output_messages = writer.count
    finally:
        progress.close()
        result.wall_s = time.perf_counter() - start
    result.labelled_frames = evaluation.labelled_frames
    _finish_ground_truth(result, src)
    return result


def _process(frame: Any, index: int, predictor: Predictor, options: ReplayOptions, gamma: float,
             result: ReplayResult, writer: Any, src: _Sources,
             on_frame: Callable[[FrameRecord], None] | None) -> None:
    """One frame: predict, write the node's topics, evaluate."""
    t0 = time.perf_counter()
    prediction = predictor.predict(frame.image, encoding="rgb8", gamma=gamma)
    t1 = time.perf_counter()
    result.predict_s += t1 - t0
    result.network_s += prediction.timings_ms.get("inference", 0.0) / 1e3
    truth = _ground_truth(frame.stamp_ns, index, frame.image.shape[:2],
                          predictor.config.num_classes, src)
    domain = src.domains.at(frame.stamp_ns) if src.domains is not None else UNKNOWN_DOMAIN
    t2 = time.perf_counter()
    result.read_s += t2 - t1
    if writer is not None:
        _write_frame(writer, frame, prediction, predictor.config.palette, options, src, truth,
                     domain)
    t3 = time.perf_counter()
    result.write_s += t3 - t2
    record = result.evaluation.add(
        index=index, stamp_ns=frame.stamp_ns, image=frame.image,
        class_ids=prediction.class_ids, confidence=prediction.confidence,
        certain=prediction.certain, labels=None if truth is None else truth.labels,
        anomaly=None if truth is None else truth.anomaly, domain=domain,
        predict_ms=1e3 * (t1 - t0),
    )
    result.evaluate_s += time.perf_counter() - t3
    result.frames += 1
    if result.first_stamp_ns is None:
        result.first_stamp_ns = frame.stamp_ns
    result.last_stamp_ns = frame.stamp_ns
    if on_frame is not None:
        on_frame(record)


def _write_frame(writer: Any, frame: Any, prediction: Any, palette: Any, options: ReplayOptions,
                 src: _Sources, truth: GroundTruth | None, domain: str) -> None:
    """The input image, the node's topics and the ground truth that came from topics."""
    stamp, frame_id = frame.stamp_ns, frame.frame_id
    if options.copy_input:
        if src.compressed:
            writer.write_compressed(options.image_topic, stamp, frame_id, frame.image, "jpeg")
        else:
            writer.write_image(options.image_topic, stamp, frame_id, frame.image, "rgb8")
    rendered = output_images(prediction.class_ids, prediction.confidence, prediction.certain,
                             palette, names=options.outputs)
    for name, (array, encoding) in rendered.items():
        writer.write_image(f"{options.namespace}/{name}", stamp, frame_id, array, encoding)
    if truth is not None and src.label_topic:
        writer.write_labels(src.label_topic, stamp, frame_id, truth.labels)
    if truth is not None and truth.anomaly is not None and src.anomaly_topic:
        writer.write_image(src.anomaly_topic, stamp, frame_id,
                           truth.anomaly.astype(np.uint8) * np.uint8(255), "mono8")
    if src.domain_topic:
        writer.write_string(src.domain_topic, stamp, domain)


def _ground_truth(stamp_ns: int, index: int, shape: tuple[int, int], num_classes: int,
                  src: _Sources) -> GroundTruth | None:
    anomaly = src.anomaly.get(stamp_ns) if src.anomaly is not None else None
    if anomaly is not None:
        if anomaly.shape != shape:
            raise UserError(f"anomaly mask at stamp {stamp_ns} is {anomaly.shape[1]}x"
                            f"{anomaly.shape[0]} but its image is {shape[1]}x{shape[0]} (WxH)")
        anomaly = anomaly > 0
    if src.folder is not None:
        found = src.folder.lookup(index, stamp_ns)
        if found is None:
            return None
        truth = src.folder.load(found, shape, num_classes)
        if anomaly is not None:
            truth.anomaly = anomaly
        return truth
    if src.labels is not None:
        labels = src.labels.get(stamp_ns)
        if labels is None:
            return None
        where = f"label message at stamp {stamp_ns}"
        if labels.shape != shape:
            raise UserError(f"{where} is {labels.shape[1]}x{labels.shape[0]} but its image is "
                            f"{shape[1]}x{shape[0]} (WxH); labels must have the image's size")
        return GroundTruth(check_train_ids(labels, num_classes, where), anomaly, where)
    return None


def _finish_ground_truth(result: ReplayResult, src: _Sources) -> None:
    """Warnings for ground truth that found no frame (the caller decides whether it fails)."""
    if src.folder is not None and result.stopped is None:
        message = src.folder.mismatch_message(result.first_stamp_ns, result.last_stamp_ns)
        if message:
            result.warnings.append(message)
    for what, join in (("label", src.labels), ("anomaly", src.anomaly)):
        if join is None:
            continue
        unmatched = join.finish()
        if join.matched == 0 and result.frames:
            result.warnings.append(
                f"no {what} message matched an image stamp (timestamps mismatch): {what}s must "
                "carry the header stamp of their image")
        elif unmatched:
            result.warnings.append(f"{unmatched} {what} message(s) matched no image stamp")


def _require_topic(bag: Path, topics: dict[str, str], topic: str, what: str) -> None:
    if topic not in topics:
        have = ", ".join(f"{t} ({m.rsplit('/', 1)[-1]})" for t, m in sorted(topics.items()))
        raise UserError(f"{what} topic {topic} is not in bag {bag}; its topics: {have or 'none'}")


def _progress(enabled: bool, total: int | None) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", disable=not enabled, dynamic_ncols=True,
                desc="replay")
