"""Replay a ROS 2 bag through the model: the node's outputs into an MCAP bag, metrics, a report.

The loop streams: one frame is read and predicted while the previous one is written and
evaluated (a bounded background stage), and only small per-frame records stay in memory. The
output bag holds the input frames (raw input re-written as rgb8, compressed input re-encoded
as JPEG), the node's five topics under `--namespace`, and the label / anomaly / domain topics
that came from the input bag, all with the input's header stamps and frame ids.

It stops early, keeping everything done so far, on Ctrl-C (the frames in flight are finished,
then the output bag is closed) or on a truncated input bag (the error names the last good
message); the caller then writes the partial report.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.gamma import resolve_gamma
from uncertainty_seg_node.inference.base import Predictor
from uncertainty_seg_node.replay.background_stage import BackgroundStage, InlineStage
from uncertainty_seg_node.replay.evaluation import FrameRecord, ReplayEvaluation
from uncertainty_seg_node.replay.frame_sources import (
    FrameSources,
    open_frame_sources,
    require_topic,
)
from uncertainty_seg_node.replay.ground_truth import GroundTruth
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
    background: bool = True  # write + evaluate on a worker thread while the next frame runs


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


def _per_frame(seconds: float, frames: int) -> float:
    return 1e3 * seconds / frames if frames else float("nan")


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


@dataclass
class _PredictedFrame:
    """A predicted frame on its way to the writer / evaluation stage."""

    index: int
    stamp_ns: int
    frame_id: str
    image: np.ndarray
    prediction: Any
    truth: GroundTruth | None
    domain: str
    predict_ms: float


def replay(
    predictor: Predictor,
    options: ReplayOptions,
    *,
    stop: threading.Event | None = None,
    on_frame: Callable[[FrameRecord], None] | None = None,
) -> ReplayResult:
    """Stream the bag through `predictor`; see the module docstring. Never loses written data.

    `stop` ends the replay after the current frame (Ctrl-C sets it); `on_frame` is called (on
    the writer thread) with each frame's record once it is written and evaluated.
    """
    from uncertainty_seg_node.bags import bag_io

    bag = Path(options.bag)
    topics = bag_io.list_topics(bag)
    require_topic(bag, topics, options.image_topic, "image")
    config = predictor.config
    gamma = resolve_gamma(options.gamma, config.default_gamma)
    evaluation = ReplayEvaluation(
        config.num_classes, config.palette, class_names=config.class_names,
        ignore_index=config.ignore_index, gamma=gamma,
        examples_per_domain=options.examples_per_domain,
    )
    result = ReplayResult(evaluation)
    count = message_count(bag, options.image_topic)
    src = open_frame_sources(
        bag, topics, labels=options.labels, label_match=options.label_match,
        label_topic=options.label_topic, anomaly_topic=options.anomaly_topic,
        domain_topic=options.domain_topic,
        image_messages=count if options.max_frames is None else None,
    )
    if not src.has_ground_truth:
        hint = [t for t in topics if t.endswith("/labels")]
        result.warnings.append(
            "no ground truth given: outputs written, no metrics"
            + (f" (the bag has {hint[0]}: pass --label-topic {hint[0]})" if hint else ""))
    result.sources = {
        "bag": str(bag), "image_topic": options.image_topic,
        "backend": getattr(predictor, "backend_name", "?"), "gamma": gamma,
        "bag_messages": count, "background_writer": options.background, **src.facts,
        "out": str(options.out) if options.out else None,
    }
    compressed = topics[options.image_topic].endswith("CompressedImage")
    stop = stop or threading.Event()
    writer_cm: Any = (bag_io.BagWriter(options.out, options.out_storage)
                      if options.out is not None else contextlib.nullcontext())
    total = count if options.max_frames is None else min(count or options.max_frames,
                                                         options.max_frames)
    progress = _progress(options.progress, total)
    submitted = 0
    start = time.perf_counter()
    try:
        with stop_on_sigint(stop), writer_cm as writer:

            def finish(item: _PredictedFrame) -> None:
                t0 = time.perf_counter()
                if writer is not None:
                    _write_frame(writer, item, config.palette, options, src, compressed)
                t1 = time.perf_counter()
                record = _evaluate_frame(evaluation, item)
                result.write_s += t1 - t0
                result.evaluate_s += time.perf_counter() - t1
                result.frames += 1
                if result.first_stamp_ns is None:
                    result.first_stamp_ns = item.stamp_ns
                result.last_stamp_ns = item.stamp_ns
                progress.update(1)
                if on_frame is not None:
                    on_frame(record)

            frames = _timed(bag_io.read_images(bag, options.image_topic), result)
            try:
                stage_cm = BackgroundStage(finish) if options.background else InlineStage(finish)
                with stage_cm as stage:
                    for index, frame in enumerate(frames):
                        stage.put(_predict_frame(predictor, frame, index, gamma, src, result))
                        submitted += 1
                        if stop.is_set():
                            result.interrupted = True
                            break
                        if options.max_frames is not None and submitted >= options.max_frames:
                            break
            except bag_io.BagReadError as exc:
                result.stopped = str(exc)
            except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread
                result.interrupted = True
            if writer is not None:
                result.output_messages = writer.count
    finally:
        progress.close()
        result.wall_s = time.perf_counter() - start
    if result.interrupted:
        result.stopped = (f"interrupted after {result.frames} frames (last good stamp "
                          f"{result.last_stamp_ns} ns)")
    result.labelled_frames = evaluation.labelled_frames
    result.warnings.extend(src.warnings(result.frames, result.first_stamp_ns,
                                        result.last_stamp_ns, complete=result.stopped is None))
    return result


def _predict_frame(predictor: Predictor, frame: Any, index: int, gamma: float,
                   src: FrameSources, result: ReplayResult) -> _PredictedFrame:
    """Run the model and look up the frame's ground truth and domain (main thread)."""
    t0 = time.perf_counter()
    prediction = predictor.predict(frame.image, encoding="rgb8", gamma=gamma)
    t1 = time.perf_counter()
    result.predict_s += t1 - t0
    result.network_s += prediction.timings_ms.get("inference", 0.0) / 1e3
    truth = src.truth_for(frame.stamp_ns, index, frame.image.shape[:2],
                          predictor.config.num_classes)
    domain = src.domain_at(frame.stamp_ns)
    result.read_s += time.perf_counter() - t1
    return _PredictedFrame(index, frame.stamp_ns, frame.frame_id, frame.image, prediction,
                           truth, domain, 1e3 * (t1 - t0))


def _evaluate_frame(evaluation: ReplayEvaluation, item: _PredictedFrame) -> FrameRecord:
    p, truth = item.prediction, item.truth
    return evaluation.add(
        index=item.index, stamp_ns=item.stamp_ns, image=item.image, class_ids=p.class_ids,
        confidence=p.confidence, certain=p.certain,
        labels=None if truth is None else truth.labels,
        anomaly=None if truth is None else truth.anomaly, domain=item.domain,
        predict_ms=item.predict_ms,
    )


def _write_frame(writer: Any, item: _PredictedFrame, palette: Any, options: ReplayOptions,
                 src: FrameSources, compressed: bool) -> None:
    """The input image, the node's topics and the ground truth that came from topics."""
    stamp, frame_id, truth = item.stamp_ns, item.frame_id, item.truth
    if options.copy_input:
        if compressed:
            writer.write_compressed(options.image_topic, stamp, frame_id, item.image, "jpeg")
        else:
            writer.write_image(options.image_topic, stamp, frame_id, item.image, "rgb8")
    p = item.prediction
    rendered = output_images(p.class_ids, p.confidence, p.certain, palette,
                             names=options.outputs)
    for name, (array, encoding) in rendered.items():
        writer.write_image(f"{options.namespace}/{name}", stamp, frame_id, array, encoding)
    if truth is not None and src.label_topic:
        writer.write_labels(src.label_topic, stamp, frame_id, truth.labels)
    if truth is not None and truth.anomaly is not None and src.anomaly_topic:
        writer.write_image(src.anomaly_topic, stamp, frame_id,
                           truth.anomaly.astype(np.uint8) * np.uint8(255), "mono8")
    if src.domain_topic:
        writer.write_string(src.domain_topic, stamp, item.domain)


def _progress(enabled: bool, total: int | None) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", disable=not enabled, dynamic_ncols=True,
                desc="replay")
