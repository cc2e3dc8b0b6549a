"""`UncertaintySegNode`: camera image in; class ids, confidence and the certain mask out.

The image callback only checks and wraps the message and drops it into a one-slot queue; one
worker thread runs the inference interface (`inference.factory.load_predictor`) and publishes
every output with the input header. A frame that fails anywhere publishes nothing, so a planner
never reads a stale or empty-but-certain mask.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.imageops import to_rgb
from uncertainty_seg_node.inference.base import Predictor
from uncertainty_seg_node.model.artifact import resolve_model_path
from uncertainty_seg_node.ros.conversions import (
    BadFrameError,
    array_to_image,
    compressed_to_array,
    image_to_array,
)
from uncertainty_seg_node.ros.diagnostics import NodeStats, status_of, to_diagnostic_array
from uncertainty_seg_node.ros.params import (
    NODE_NAME,
    SPECS,
    check_value,
    declare_parameters,
    input_reliability,
    settings_from_values,
)
from uncertainty_seg_node.ros.worker import LatestSlot, Worker
from uncertainty_seg_node.visualize import output_images

# The planner's topic goes out first; colour images only while someone subscribes to them.
_ALWAYS = ("certain_mask", "segmentation", "confidence")
_COLOR = ("segmentation_color", "confidence_color")
_LOG_EVERY_S = 5.0  # rate limit of the per-frame warnings


@dataclass
class Frame:
    """One camera frame waiting for the worker (compressed frames are decoded there)."""

    header: Header
    received: float  # time.monotonic() when the callback got it
    image: np.ndarray | None = None
    encoding: str = ""
    compressed: CompressedImage | None = None


def load_model(path: Path, backend: str, device: str, score_method: str) -> Predictor:
    """The predictor for `path`; any failure becomes a one-line UserError naming the file."""
    from uncertainty_seg_node.inference.factory import load_predictor

    try:
        return load_predictor(
            path, backend=backend, device=device,
            score_method=None if score_method == "auto" else score_method,
        )
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - any backend error is a reason to refuse the model
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise UserError(
            f"model {path} could not be loaded with backend {backend!r} on {device!r} "
            f"({type(exc).__name__}: {first_line})"
        ) from None


class UncertaintySegNode(Node):
    """Segmentation with per-pixel confidence and a gamma-thresholded certain mask."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._settings = declare_parameters(self)
        self._stats = NodeStats()
        self._model_path = resolve_model_path(self._settings.model_path)
        self._predictor: Predictor | None = None
        self._model_error = ""
        self._next_load = 0.0
        self._try_load_model()
        if self._predictor is None and self._settings.on_model_error == "fail":
            raise UserError(self._model_error)

        output_qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self._outputs = {
            name: self.create_publisher(Image, f"~/{name}", output_qos)
            for name in (*_ALWAYS, *_COLOR)
        }
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)

        self._slot: LatestSlot[Frame] = LatestSlot()
        self._worker: Worker[Frame] = Worker(
            self._slot, self._process, self._on_worker_error, idle=self._retry_model
        )
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)

        settings = self._settings
        self._reliability = input_reliability(settings.qos_reliability, [])
        self._subscription = self._subscribe()
        if settings.qos_reliability == "auto":
            self._qos_timer = self.create_timer(0.5, self._match_publishers)
        self._timer = self.create_timer(settings.diagnostics_period, self._publish_diagnostics)
        self._worker.start()
        self.get_logger().info(
            f"model {self._model_path} ({self._backend_name()}); publishing under "
            f"{self.get_fully_qualified_name()}/"
        )

    # -- input -------------------------------------------------------------------------------

    def _subscribe(self) -> Subscription[Any]:
        settings = self._settings
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=settings.qos_depth,
            reliability=ReliabilityPolicy.RELIABLE
            if self._reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT,
        )
        msg_type: Any = CompressedImage if settings.compressed else Image
        subscription = self.create_subscription(
            msg_type, settings.input_topic, self._on_image, qos)
        self.get_logger().info(
            f"subscribed to {subscription.topic_name} ({msg_type.__name__}, "
            f"{self._reliability}, depth {settings.qos_depth})"
        )
        return subscription

    def _match_publishers(self) -> None:
        """qos_reliability=auto: follow the publishers (timer, executor thread)."""
        publishers = [
            "reliable" if info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
            else "best_effort"
            for info in self.get_publishers_info_by_topic(self._settings.input_topic)
        ]
        wanted = input_reliability("auto", publishers)
        if publishers and wanted != self._reliability:
            self.destroy_subscription(self._subscription)
            self._reliability = wanted
            self._subscription = self._subscribe()

    # -- model -------------------------------------------------------------------------------

    def _try_load_model(self) -> None:
        settings = self._settings
        try:
            predictor = load_model(self._model_path, settings.backend, settings.device,
                                   settings.score_method)
            if settings.warmup:
                h, w = predictor.config.input_size
                predictor.predict(np.zeros((h, w, 3), dtype=np.uint8))
        except UserError as exc:
            self._model_error = str(exc)
            self._next_load = time.monotonic() + settings.model_retry_period
            if settings.on_model_error == "wait":
                self.get_logger().error(
                    f"{exc}; retrying every {settings.model_retry_period} s",
                    throttle_duration_sec=max(_LOG_EVERY_S, settings.model_retry_period),
                )
            return
        self._predictor, self._model_error = predictor, ""

    def _retry_model(self) -> None:
        if self._predictor is None and time.monotonic() >= self._next_load:
            self._try_load_model()
            if self._predictor is not None:
                self.get_logger().info(f"model {self._model_path} loaded")

    def _backend_name(self) -> str:
        return self._predictor.backend_name if self._predictor is not None else "none"

    # -- image path --------------------------------------------------------------------------

    def _on_image(self, msg: Image | CompressedImage) -> None:
        received = time.monotonic()
        self._stats.received()
        if isinstance(msg, CompressedImage):
            frame = Frame(msg.header, received, compressed=msg)
        else:
            try:
                image, encoding = image_to_array(msg, self._settings.max_image_pixels)
            except BadFrameError as exc:
                self._reject(exc)
                return
            frame = Frame(msg.header, received, image=image, encoding=encoding)
        if self._slot.put(frame):
            self._stats.dropped()

    def _reject(self, exc: BadFrameError) -> None:
        self._stats.rejected(exc.reason, str(exc))
        self.get_logger().warning(f"rejected a frame: {exc}", throttle_duration_sec=_LOG_EVERY_S)

    def _process(self, frame: Frame) -> None:
        """Worker thread: infer one frame and publish everything, or publish nothing."""
        predictor, settings = self._predictor, self._settings
        if predictor is None:
            self._stats.failed("no_model", self._model_error)
            return
        if frame.compressed is not None:
            try:
                image, encoding = compressed_to_array(frame.compressed, settings.max_image_pixels)
            except BadFrameError as exc:
                self._reject(exc)
                return
        else:
            assert frame.image is not None
            image, encoding = frame.image, frame.encoding
        if encoding in ("rgba8", "bgra8"):
            image, encoding = to_rgb(image, encoding), "rgb8"
        start = time.perf_counter()
        prediction = predictor.predict(image, encoding=encoding, gamma=settings.gamma)
        inference_ms = 1e3 * (time.perf_counter() - start)
        shape = image.shape[:2]
        for name in ("class_ids", "confidence", "certain"):
            got = getattr(prediction, name).shape
            if got != shape:
                raise RuntimeError(f"predictor returned {name} of shape {got} for a {shape} image")

        # Every message of a group is built before the first is published, so a failure
        # publishes nothing; the colour images follow the planner's outputs, never delay them.
        self._publish(frame.header, output_images(
            prediction.class_ids, prediction.confidence, prediction.certain,
            predictor.config.palette, names=_ALWAYS,
        ))
        self._stats.published(
            1e3 * (time.monotonic() - frame.received), inference_ms,
            float(np.count_nonzero(prediction.certain)) / max(1, prediction.certain.size),
        )
        watched = [n for n in _COLOR if self._outputs[n].get_subscription_count() > 0]
        if settings.publish_color and watched:
            camera = None
            if "segmentation_color" in watched and settings.color_overlay_alpha > 0.0:
                camera = to_rgb(image, encoding)
            self._publish(frame.header, output_images(
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
        self._stats.failed("inference", f"{type(exc).__name__}: {exc}")
        self.get_logger().error(
            f"frame failed, nothing published: {type(exc).__name__}: {exc}",
            throttle_duration_sec=_LOG_EVERY_S,
        )

    # -- parameters and diagnostics ----------------------------------------------------------

    def _check_parameters(self, params: list[Parameter[Any]]) -> SetParametersResult:
        """Refuse a run-time change with the reason (rclpy already refuses read-only ones)."""
        for param in params:
            if param.name in SPECS:
                reason = check_value(param.name, param.value)
                if reason is not None:
                    return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def _apply_parameters(self, params: list[Parameter[Any]]) -> None:
        changed = {p.name: p.value for p in params if p.name in SPECS}
        if changed:
            self._settings = settings_from_values(changed, base=self._settings)
            self.get_logger().info(f"parameters changed: {changed}")

    def _gamma_text(self) -> str:
        gamma = self._settings.gamma
        if gamma is not None:
            return f"{gamma:.4f}"
        if self._predictor is None:
            return "auto"
        return f"{self._predictor.config.default_gamma:.4f} (auto)"

    def _publish_diagnostics(self) -> None:
        snapshot = self._stats.snapshot()  # always, so each message covers one period
        if self._diagnostics.get_subscription_count() == 0:
            return
        model = self._model_path.name
        if self._predictor is not None:
            model += f" ({self._predictor.config.arch})"
        status = status_of(snapshot, backend=self._backend_name(), model=model,
                           gamma=self._gamma_text(), model_error=self._model_error)
        self._diagnostics.publish(to_diagnostic_array(
            self.get_clock().now().to_msg(), f"{NODE_NAME}: {self.get_fully_qualified_name()}",
            self.get_fully_qualified_name(), status,
        ))

    def destroy_node(self) -> None:
        """Stop the worker before the publishers go away."""
        self._worker.stop()
        super().destroy_node()
