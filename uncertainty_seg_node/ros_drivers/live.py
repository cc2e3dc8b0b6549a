"""Live evaluation's DDS side: subscribe to the node's outputs and the labels during a bag play.

The pairing and the evaluation are ROS-free (`replay.live`); this module only subscribes and
feeds them, stopping on Ctrl-C, a stop event, a duration or an idle timeout.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.replay.evaluation import ReplayEvaluation
from uncertainty_seg_node.replay.live import LiveOptions, LiveSynchronizer, message_array


def run_live(evaluation: ReplayEvaluation, options: LiveOptions,
             stop: threading.Event | None = None) -> dict[str, Any]:
    """Subscribe and evaluate until Ctrl-C, `stop`, the duration or the idle timeout.

    Returns run facts (frames, dropped, why it stopped); the caller writes the report.
    """
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
            except (ValueError, UserError) as exc:  # reported, not fatal to the run
                errors.append(str(exc))
        return callback

    ns = options.namespace.rstrip("/")
    topics = {"segmentation": f"{ns}/segmentation", "confidence": f"{ns}/confidence",
              "certain_mask": f"{ns}/certain_mask", "labels": options.label_topic}
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
            if (options.idle_timeout_s is not None
                    and now - max(start, sync.last_arrival) >= options.idle_timeout_s):
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
