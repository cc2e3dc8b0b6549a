"""`UncertaintySegNode`: camera image in; class ids, confidence and the certain mask out.

The image callback only checks and wraps the message and drops it into a one-slot queue; one
worker thread decodes, runs the inference interface (`inference.factory.load_predictor`) and
publishes every output with the input header. No exception from a frame's handling leaves the
callback or the worker: each is counted by reason in /diagnostics, and a frame that fails before
its outputs are complete publishes nothing, so a planner never reads a stale or
empty-but-certain mask.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.image_codec.compressed import compressed_array
from uncertainty_seg_node.image_codec.encodings import CAMERA_ENCODINGS, to_model_encoding, to_rgb
from uncertainty_seg_node.image_codec.raw import ImageFormatError, message_array
from uncertainty_seg_node.inference.base import Prediction, Predictor
from uncertainty_seg_node.model.artifact import resolve_model_path
from uncertainty_seg_node.ros.conversions import array_to_image
from uncertainty_seg_node.ros.diagnostics import NodeStats, status_of, to_diagnostic_array
from uncertainty_seg_node.ros.fault_injection import FaultInjector
from uncertainty_seg_node.ros.input_qos import InputQos
from uncertainty_seg_node.ros.model_loader import ModelLoader
from uncertainty_seg_node.ros.params import (
    NODE_NAME,
    SPECS,
    check_value,
    declare_parameters,
    settings_from_values,
)
from uncertainty_seg_node.ros.worker import LatestSlot, Worker
from uncertainty_seg_node.visualize import output_images

# The planner's topic goes out first; colour images only while someone subscribes to them.
_ALWAYS = ("certain_mask", "segmentation", "confidence")
_COLOR = ("segmentation_color", "confidence_color")
_LOG_EVERY_S = 5.0  # rate limit of the per-frame warnings


@dataclass
class ReceivedFrame:
    """One camera frame waiting for the worker (decoded to a model encoding there)."""

    header: Header
    received: float  # time.monotonic() when the callback got it
    image: np.ndarray | None = None  # a view on the message data, as encoded
    encoding: str = ""
    compressed: CompressedImage | None = None


class UncertaintySegNode(Node):
    """Segmentation with per-pixel confidence and a gamma-thresholded certain mask."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._settings = declare_parameters(self)
        self._stats = NodeStats()
        self._faults = FaultInjector.from_env()
        if self._faults.enabled:
            self.get_logger().warning("TEST-ONLY fault injection is on (UNCERTAINTY_SEG_TEST_"
                                      "FAULTS=1); never set it on a vehicle")
        self._model = ModelLoader(resolve_model_path(self._settings.model_path), self._settings,
                                  self.get_logger(), wrap=self._faults.wrap)
        self._model.load()
        if self._model.predictor is None and self._settings.on_model_error == "fail":
            raise UserError(self._model.error)

        output_qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self._outputs = {
            name: self.create_publisher(Image, f"~/{name}", output_qos)
            for name in (*_ALWAYS, *_COLOR)
        }
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._camera_info: CameraInfo | None = None
        self._info_pub = None
        if self._settings.camera_info_topic:
            self._info_pub = self.create_publisher(CameraInfo, "~/camera_info", output_qos)
            self._info_sub = self.create_subscription(
                CameraInfo, self._settings.camera_info_topic, self._on_camera_info,
                QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))

        self._slot: LatestSlot[ReceivedFrame] = LatestSlot()
        self._worker: Worker[ReceivedFrame] = Worker(
            self._slot, self._process, self._on_worker_error, idle=self._model.retry
        )
        # Humble and Jazzy have no post-set callback: validate and apply in the one callback.
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._input = InputQos(self, self._settings)
        self._subscription = self._subscribe()
        if self._input.follows_publishers:
            self._qos_timer = self.create_timer(0.5, self._match_publishers)
        self._timer = self.create_timer(self._settings.diagnostics_period,
                                        self._publish_diagnostics)
        self._worker.start()
        self.get_logger().info(
            f"model {self._model.path} ({self._model.backend_name}); publishing under "
            f"{self.get_fully_qualified_name()}/"
        )

    # -- input -------------------------------------------------------------------------------

    def _subscribe(self) -> Subscription[Any]:
        settings = self._settings
        msg_type: Any = CompressedImage if settings.compressed else Image
        subscription = self.create_subscription(
            msg_type, settings.input_topic, self._on_image, self._input.profile(),
            qos_overriding_options=self._input.overriding_options())
        self.get_logger().info(
            f"subscribed to {subscription.topic_name} ({msg_type.__name__}, "
            f"{self._input.describe(subscription.qos_profile)})"
        )
        return subscription

    def _match_publishers(self) -> None:
        """qos_reliability=auto: follow the publishers (timer, executor thread)."""
        publishers = [
            "reliable" if info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
            else "best_effort"
            for info in self.get_publishers_info_by_topic(self._settings.input_topic)
        ]
        if self._input.follow(publishers):
            self.destroy_subscription(self._subscription)
            self._subscription = self._subscribe()

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    # -- image path --------------------------------------------------------------------------

    def _on_image(self, msg: Image | CompressedImage) -> None:
        """Executor thread: check and wrap, hand to the worker; never raises."""
        received = time.monotonic()
        self._stats.received()
        try:
            self._faults.check("callback", str(msg.header.frame_id))
            if isinstance(msg, CompressedImage):
                frame = ReceivedFrame(msg.header, received, compressed=msg)
            else:
                image, encoding = message_array(msg, encodings=CAMERA_ENCODINGS,
                                                max_pixels=self._settings.max_image_pixels)
                frame = ReceivedFrame(msg.header, received, image=image, encoding=encoding)
            if self._slot.put(frame):
                self._stats.dropped()
        except ImageFormatError as exc:
            self._reject(exc)
        except Exception as exc:  # noqa: BLE001 - one frame must never stop the node
            self._fail("callback", exc)

    def _reject(self, exc: ImageFormatError) -> None:
        self._stats.rejected(exc.reason, str(exc))
        self.get_logger().warning(f"rejected a frame: {exc}", throttle_duration_sec=_LOG_EVERY_S)

    def _fail(self, reason: str, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        self._stats.failed(reason, text)
        if reason == "color":  # a throttle of its own: this one is about the colour images only
            self.get_logger().error(
                f"colour images failed; its main outputs were published, the rest was not: "
                f"{text}", throttle_duration_sec=_LOG_EVERY_S)
        else:
            self.get_logger().error(f"frame failed in {reason}, nothing published: {text}",
                                    throttle_duration_sec=_LOG_EVERY_S)

    def _decode(self, frame: ReceivedFrame) -> tuple[np.ndarray, str]:
        """The frame as an image and encoding `predict` reads (worker thread)."""
        self._faults.check("conversion")
        if frame.compressed is not None:
            return compressed_array(frame.compressed.data, frame.compressed.format,
                                    self._settings.max_image_pixels)
        assert frame.image is not None
        return to_model_encoding(frame.image, frame.encoding)

    def _process(self, frame: ReceivedFrame) -> None:
        """Worker thread: infer one frame and publish its outputs, or publish nothing."""
        self._model.retry()  # on_model_error=wait: frames keep coming, retry anyway
        predictor, settings = self._model.predictor, self._settings
        if predictor is None:
            self._stats.failed("no_model", self._model.error)
            return
        self._faults.enter(str(frame.header.frame_id))
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
            self._faults.check("publish")
            self._publish(frame.header, output_images(
                prediction.class_ids, prediction.confidence, prediction.certain,
                predictor.config.palette, names=_ALWAYS,
            ))
        except Exception as exc:  # noqa: BLE001
            self._fail("publish", exc)
            return
        self._stats.published(
            1e3 * (time.monotonic() - frame.received), inference_ms,
            float(np.count_nonzero(prediction.certain)) / max(1, prediction.certain.size),
        )
        try:
            self._publish_camera_info(frame.header)
            self._publish_colors(frame.header, prediction, image, encoding, predictor)
        except Exception as exc:  # noqa: BLE001
            self._fail("color", exc)

    def _publish_camera_info(self, header: Header) -> None:
        info = self._camera_info
        if self._info_pub is None or info is None:
            return
        out = copy.copy(info)
        out.header = header
        self._info_pub.publish(out)

    def _publish_colors(self, header: Header, prediction: Prediction, image: np.ndarray,
                        encoding: str, predictor: Predictor) -> None:
        settings = self._settings
        watched = [n for n in _COLOR if self._outputs[n].get_subscription_count() > 0]
        if not (settings.publish_color and watched):
            return
        self._faults.check("color")
        camera = None
        if "segmentation_color" in watched and settings.color_overlay_alpha > 0.0:
            camera = to_rgb(image, encoding)
        self._publish(header, output_images(
            prediction.class_ids, prediction.confidence, prediction.certain,
            predictor.config.palette, image=camera,
            overlay_alpha=settings.color_overlay_alpha, names=watched,
        ))
        self._stats.colored()

    def _publish(self, header: Header, arrays: dict[str, tuple[np.ndarray, str]]) -> None:
        messages = [(name, array_to_image(array, encoding, header))
                    for name, (array, encoding) in arrays.items()]
        for name, msg in messages:
            self._outputs[name].publish(msg)

    def _on_worker_error(self, exc: BaseException) -> None:
        self._fail("internal", exc)

    # -- parameters and diagnostics ----------------------------------------------------------

    def _on_set_parameters(self, params: list[Parameter[Any]]) -> SetParametersResult:
        """Refuse a run-time change with the reason, or apply it (read-only ones rclpy refuses).

        rclpy stores the values only when every callback succeeds, and this is the only one, so
        applying here never leaves the cached settings ahead of the parameters.
        """
        for param in params:
            if param.name in SPECS:
                reason = check_value(param.name, param.value)
                if reason is not None:
                    return SetParametersResult(successful=False, reason=reason)
        changed = {p.name: p.value for p in params if p.name in SPECS}
        if changed:
            self._settings = settings_from_values(changed, base=self._settings)
            self.get_logger().info(f"parameters changed: {changed}")
        return SetParametersResult(successful=True)

    def _gamma_text(self) -> str:
        gamma = self._settings.gamma
        if gamma is not None:
            return f"{gamma:.4f}"
        if self._model.predictor is None:
            return "auto"
        return f"{self._model.predictor.config.default_gamma:.4f} (auto)"

    def _publish_diagnostics(self) -> None:
        snapshot = self._stats.snapshot()  # always, so each message covers one period
        if self._diagnostics.get_subscription_count() == 0:
            return
        model = self._model.path.name
        if self._model.predictor is not None:
            model += f" ({self._model.predictor.config.arch})"
        status = status_of(snapshot, backend=self._model.backend_name, model=model,
                           gamma=self._gamma_text(), model_error=self._model.error,
                           stale_after_s=self._settings.stale_after_s,
                           execution=self._model.execution[0],
                           execution_warning=self._model.execution[1])
        self._diagnostics.publish(to_diagnostic_array(
            self.get_clock().now().to_msg(), f"{NODE_NAME}: {self.get_fully_qualified_name()}",
            self.get_fully_qualified_name(), status,
        ))

    def destroy_node(self) -> None:
        """Stop the worker before the publishers go away."""
        self._worker.stop()
        super().destroy_node()


def _check_shapes(prediction: Prediction, shape: tuple[int, ...]) -> None:
    for name in ("class_ids", "confidence", "certain"):
        got = getattr(prediction, name).shape
        if got != shape:
            raise RuntimeError(f"predictor returned {name} of shape {got} for a {shape} image")
