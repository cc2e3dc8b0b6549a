"""`FramePipeline`: the camera subscription, the worker thread and the publishing of one run.

The image callback only checks and wraps the message and drops it into a one-slot queue; one
worker thread decodes, runs the inference interface and publishes every output with the input
header. No exception from a frame's handling leaves the callback or the worker: each is counted
by reason in /diagnostics, and a frame that fails before its outputs are complete publishes
nothing, so a planner never reads a stale or empty-but-certain mask.

The plain node makes one `FramePipeline` at start; the managed node one per activation and `stop`s
it on deactivate: from then on nothing more is published, not even the outputs of a frame whose
inference was running (a frame's planner outputs go out all together or not at all).
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from uncertainty_seg_node.image_codec.compressed import compressed_array
from uncertainty_seg_node.image_codec.encodings import CAMERA_ENCODINGS, to_model_encoding, to_rgb
from uncertainty_seg_node.image_codec.raw import ImageFormatError, message_array
from uncertainty_seg_node.inference.base import Prediction, Predictor
from uncertainty_seg_node.ros.input_qos import InputQos
from uncertainty_seg_node.ros.model_loader import ModelLoader
from uncertainty_seg_node.ros.outputs import COLOR_OUTPUTS, PLANNER_OUTPUTS, Outputs
from uncertainty_seg_node.ros.worker import LatestSlot, Worker
from uncertainty_seg_node.visualize import output_images

if TYPE_CHECKING:
    from rclpy.node import Node

    from uncertainty_seg_node.ros.node_core import NodeCore

_LOG_EVERY_S = 5.0  # rate limit of the per-frame warnings


@dataclass
class ReceivedFrame:
    """One camera frame waiting for the worker (decoded to a model encoding there)."""

    header: Header
    received: float  # time.monotonic() when the callback got it
    image: np.ndarray | None = None  # a view on the message data, as encoded
    encoding: str = ""
    compressed: CompressedImage | None = None


class FramePipeline:
    """Subscribes and starts the worker at construction; `stop` ends both and the publishing."""

    def __init__(self, node: Node, core: NodeCore, loader: ModelLoader, outputs: Outputs
                 ) -> None:
        self._node, self._core, self._loader, self._outputs = node, core, loader, outputs
        self._camera_info: CameraInfo | None = None
        self._gate = threading.Lock()  # held while a frame's outputs go out
        self._open = True
        settings = core.settings
        self._input = InputQos(node, settings)  # first: it refuses bad QoS overrides
        self._info_sub: Subscription[Any] | None = None
        if settings.camera_info_topic:
            self._info_sub = node.create_subscription(
                CameraInfo, settings.camera_info_topic, self._on_camera_info,
                QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        self._slot: LatestSlot[ReceivedFrame] = LatestSlot()
        self._worker: Worker[ReceivedFrame] = Worker(
            self._slot, self._process, self._on_worker_error, idle=loader.retry)
        self._subscription = self._subscribe()
        self._qos_timer = (node.create_timer(0.5, self._match_publishers)
                           if self._input.follows_publishers else None)
        self._worker.start()

    def stop(self) -> None:
        """Unsubscribe, publish nothing from now on, and end the worker thread."""
        node = self._node
        if self._qos_timer is not None:
            node.destroy_timer(self._qos_timer)
        node.destroy_subscription(self._subscription)
        if self._info_sub is not None:
            node.destroy_subscription(self._info_sub)
        with self._gate:  # waits for a frame being published to finish going out
            self._open = False
        self._worker.stop()

    # -- input -------------------------------------------------------------------------------

    def _subscribe(self) -> Subscription[Any]:
        settings = self._core.settings
        msg_type: Any = CompressedImage if settings.compressed else Image
        subscription = self._node.create_subscription(
            msg_type, settings.input_topic, self._on_image, self._input.profile(),
            qos_overriding_options=self._input.overriding_options())
        self._node.get_logger().info(
            f"subscribed to {subscription.topic_name} ({msg_type.__name__}, "
            f"{self._input.describe(subscription.qos_profile)})"
        )
        return subscription

    def _match_publishers(self) -> None:
        """qos_reliability=auto: follow the publishers (timer, executor thread)."""
        publishers = [
            "reliable" if info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
            else "best_effort"
            for info in self._node.get_publishers_info_by_topic(self._core.settings.input_topic)
        ]
        if self._input.follow(publishers):
            self._node.destroy_subscription(self._subscription)
            self._subscription = self._subscribe()

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    # -- image path --------------------------------------------------------------------------

    def _on_image(self, msg: Image | CompressedImage) -> None:
        """Executor thread: check and wrap, hand to the worker; never raises."""
        received = time.monotonic()
        stats, faults = self._core.stats, self._core.faults
        stats.received()
        try:
            faults.check("callback", str(msg.header.frame_id))
            if isinstance(msg, CompressedImage):
                frame = ReceivedFrame(msg.header, received, compressed=msg)
            else:
                image, encoding = message_array(
                    msg, encodings=CAMERA_ENCODINGS,
                    max_pixels=self._core.settings.max_image_pixels)
                frame = ReceivedFrame(msg.header, received, image=image, encoding=encoding)
            if self._slot.put(frame):
                stats.dropped()
        except ImageFormatError as exc:
            self._reject(exc)
        except Exception as exc:  # noqa: BLE001 - one frame must never stop the node
            self._fail("callback", exc)

    def _reject(self, exc: ImageFormatError) -> None:
        self._core.stats.rejected(exc.reason, str(exc))
        self._node.get_logger().warning(f"rejected a frame: {exc}",
                                        throttle_duration_sec=_LOG_EVERY_S)

    def _fail(self, reason: str, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        self._core.stats.failed(reason, text)
        if reason == "color":  # a throttle of its own: this one is about the colour images only
            self._node.get_logger().error(
                f"colour images failed; its main outputs were published, the rest was not: "
                f"{text}", throttle_duration_sec=_LOG_EVERY_S)
        else:
            self._node.get_logger().error(f"frame failed in {reason}, nothing published: {text}",
                                          throttle_duration_sec=_LOG_EVERY_S)

    def _decode(self, frame: ReceivedFrame) -> tuple[np.ndarray, str]:
        """The frame as an image and encoding `predict` reads (worker thread)."""
        self._core.faults.check("conversion")
        if frame.compressed is not None:
            return compressed_array(frame.compressed.data, frame.compressed.format,
                                    self._core.settings.max_image_pixels)
        assert frame.image is not None
        return to_model_encoding(frame.image, frame.encoding)

    def _process(self, frame: ReceivedFrame) -> None:
        """Worker thread: infer one frame and publish its outputs, or publish nothing."""
        self._loader.retry()  # on_model_error=wait: frames keep coming, retry anyway
        predictor, settings, stats = self._loader.predictor, self._core.settings, self._core.stats
        if predictor is None:
            stats.failed("no_model", self._loader.error)
            return
        self._core.faults.enter(str(frame.header.frame_id))
        try:
            image, encoding = self._decode(frame)
        except ImageFormatError as exc:
            self._reject(exc)
            return
        except Exception as exc:  # noqa: BLE001 - counted, the next frame still runs
            self._fail("conversion", exc)
            return
        try:
            start = time.perf_counter()
            prediction = predictor.predict(image, encoding=encoding, gamma=settings.gamma)
            inference_ms = 1e3 * (time.perf_counter() - start)
            _check_shapes(prediction, image.shape[:2])
        except Exception as exc:  # noqa: BLE001
            self._fail("inference", exc)
            return
        try:
            # Every message is built before the first is published, so a failure publishes
            # nothing; the colour images follow the planner's outputs, never delay them.
            self._core.faults.check("publish")
            if not self._publish(frame.header, output_images(
                prediction.class_ids, prediction.confidence, prediction.certain,
                predictor.config.palette, names=PLANNER_OUTPUTS,
            )):
                return  # stopped meanwhile (deactivated): nothing goes out
        except Exception as exc:  # noqa: BLE001
            self._fail("publish", exc)
            return
        stats.published(
            1e3 * (time.monotonic() - frame.received), inference_ms,
            float(np.count_nonzero(prediction.certain)) / max(1, prediction.certain.size),
        )
        try:
            self._publish_camera_info(frame.header)
            self._publish_colors(frame.header, prediction, image, encoding, predictor)
        except Exception as exc:  # noqa: BLE001
            self._fail("color", exc)

    def _publish_camera_info(self, header: Header) -> None:
        info, publisher = self._camera_info, self._outputs.camera_info
        if publisher is None or info is None:
            return
        out = copy.copy(info)
        out.header = header
        with self._gate:
            if self._open:
                publisher.publish(out)

    def _publish_colors(self, header: Header, prediction: Prediction, image: np.ndarray,
                        encoding: str, predictor: Predictor) -> None:
        settings = self._core.settings
        watched = self._outputs.watched(COLOR_OUTPUTS)
        if not (settings.publish_color and watched):
            return
        self._core.faults.check("color")
        camera = None
        if "segmentation_color" in watched and settings.color_overlay_alpha > 0.0:
            camera = to_rgb(image, encoding)
        if self._publish(header, output_images(
            prediction.class_ids, prediction.confidence, prediction.certain,
            predictor.config.palette, image=camera,
            overlay_alpha=settings.color_overlay_alpha, names=watched,
        )):
            self._core.stats.colored()

    def _publish(self, header: Header, arrays: dict[str, tuple[np.ndarray, str]]) -> bool:
        """Publish all of `arrays` with `header`, or (once stopped) none; True when published."""
        messages = self._outputs.messages(header, arrays)
        with self._gate:
            if not self._open:
                return False
            self._outputs.publish(messages)
        return True

    def _on_worker_error(self, exc: BaseException) -> None:
        self._fail("internal", exc)


def _check_shapes(prediction: Prediction, shape: tuple[int, ...]) -> None:
    for name in ("class_ids", "confidence", "certain"):
        got = getattr(prediction, name).shape
        if got != shape:
            raise RuntimeError(f"predictor returned {name} of shape {got} for a {shape} image")
