"""The node's parameters: one table of specs, their validation, and the typed settings they give.

Pure Python except `declare_parameters` (which turns the table into rclpy declarations with
`ParameterDescriptor`s), so every rule here is tested without a ROS graph. The node validates
run-time changes with `check_value` in its `add_on_set_parameters_callback`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from uncertainty_seg_node.config import SCORE_METHODS
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.gamma import parse_gamma
from uncertainty_seg_node.model import artifact
from uncertainty_seg_node.runtime import BACKENDS, PRECISIONS, parse_device

if TYPE_CHECKING:
    from rclpy.node import Node

NODE_NAME = "uncertainty_seg_node"
DEFAULT_MODEL_PATH = artifact.DEFAULT_MODEL_PATH
RELIABILITIES = ("auto", "best_effort", "reliable")
ON_MODEL_ERROR = ("fail", "wait")

ParamValue = bool | int | float | str


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: default, description and the rule its values must follow."""

    name: str
    default: ParamValue
    description: str
    read_only: bool = True  # most settings shape publishers, threads or the model: restart
    choices: tuple[str, ...] = ()
    int_range: tuple[int, int] | None = None
    float_range: tuple[float, float] | None = None
    dynamic_typing: bool = False  # gamma: a float or the string "auto"


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("model_path", DEFAULT_MODEL_PATH,
              "Model file (.onnx, .pt checkpoint, .engine, or a .delta.safetensors file assembled "
              "with its pretrained backbone on first use); a relative path is looked up in the "
              "package share directory, then in the working directory. The default is the "
              "shipped model (models/MODEL_CARD.md)."),
    ParamSpec("backend", "auto",
              "Inference backend; auto: torch for a checkpoint, tensorrt for an engine, else "
              "tensorrt on cuda when installed; on the CPU the fastest gated (backend, "
              "precision) pair of ONNX Runtime and, when installed, OpenVINO, timed on this "
              "machine once and kept (the start-up log says which, why and every timing).",
              choices=BACKENDS),
    ParamSpec("device", "cpu",
              "Device for the backend: cpu, cuda or cuda:N (NVIDIA), gpu or gpu:N (an Intel GPU "
              "through OpenVINO)."),
    ParamSpec("precision", "auto",
              "Inference precision. auto: the model file's own for onnxruntime, fp16 for "
              "tensorrt, and for openvino (and backend auto on the CPU) the fastest precision "
              "that the device runs and that passes the shipping gate (labels >= 99 % equal to "
              "fp32, AUPR moved < 0.005); a precision that fails the gate is refused with its "
              "figures.",
              choices=PRECISIONS),
    ParamSpec("score_method", "auto",
              "Uncertainty score mapped to confidence; auto = the one stored in the model.",
              choices=("auto", *SCORE_METHODS)),
    ParamSpec("gamma", "auto",
              "Confidence threshold: certain where confidence > gamma. A float in [0, 1] or "
              "'auto' for the model's calibrated value. Can be changed at run time.",
              read_only=False, dynamic_typing=True),
    ParamSpec("image_topic", "/camera/image_raw",
              "Camera topic (sensor_msgs/Image); with compressed=true the node subscribes to "
              "<image_topic>/compressed (sensor_msgs/CompressedImage) instead."),
    ParamSpec("compressed", False, "Subscribe to CompressedImage (jpeg/png) instead of Image."),
    ParamSpec("camera_info_topic", "",
              "Optional sensor_msgs/CameraInfo topic of the camera (e.g. /camera/camera_info). "
              "When set, its latest message is republished on ~/camera_info with the header of "
              "each published frame, so a depth projection or nvblox can use the certain mask. "
              "Empty: off."),
    ParamSpec("stale_after_s", 2.0,
              "Seconds without a camera frame after which /diagnostics turns WARN (stale input).",
              read_only=False, float_range=(0.1, 3600.0)),
    ParamSpec("qos_reliability", "auto",
              "Input QoS reliability. best_effort is the sensor-data profile; auto starts so and "
              "switches to reliable while every publisher of the topic is reliable (best effort "
              "loses frames larger than a DDS shared-memory segment when fragments drop).",
              choices=RELIABILITIES),
    ParamSpec("qos_depth", 5, "Input QoS history depth (keep last).", int_range=(1, 100)),
    # The input subscription also honours rclpy's read-only QoS override parameters
    # qos_overrides.<image topic>.subscription.{history,depth,reliability,durability}; a
    # reliability override there replaces qos_reliability (auto then no longer switches).
    ParamSpec("publish_color", True,
              "Publish ~/segmentation_color and ~/confidence_color (only rendered while "
              "something subscribes).", read_only=False),
    ParamSpec("color_overlay_alpha", 0.0,
              "Opacity of the palette over the camera image in ~/segmentation_color "
              "(0 = palette only).", read_only=False, float_range=(0.0, 1.0)),
    ParamSpec("max_image_pixels", 4096 * 4096,
              "Frames with more pixels are rejected as bad input (counted in diagnostics).",
              read_only=False, int_range=(1, 1 << 30)),
    ParamSpec("diagnostics_period", 1.0, "Seconds between /diagnostics messages.",
              float_range=(0.1, 60.0)),
    ParamSpec("on_model_error", "fail",
              "When the model cannot load: fail (exit at start with the reason) or wait "
              "(stay up, report ERROR in /diagnostics, retry every model_retry_period s).",
              choices=ON_MODEL_ERROR),
    ParamSpec("model_retry_period", 5.0, "Seconds between load attempts with on_model_error=wait.",
              float_range=(0.1, 3600.0)),
    ParamSpec("warmup", True, "Run one inference on a blank frame at start so the first camera "
              "frame does not pay for lazy initialisation."),
)
SPECS: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}
# Declared by rclpy itself for every node; allowed in a params file.
_BUILTIN = ("use_sim_time", "start_type_description_service")


@dataclass(frozen=True)
class NodeSettings:
    """The validated, typed values the node works with (cached, replaced on a change)."""

    model_path: str = DEFAULT_MODEL_PATH
    backend: str = "auto"
    device: str = "cpu"
    precision: str = "auto"
    score_method: str = "auto"
    gamma: float | None = None  # None = the model's calibrated value
    image_topic: str = "/camera/image_raw"
    compressed: bool = False
    camera_info_topic: str = ""
    stale_after_s: float = 2.0
    qos_reliability: str = "auto"
    qos_depth: int = 5
    publish_color: bool = True
    color_overlay_alpha: float = 0.0
    max_image_pixels: int = 4096 * 4096
    diagnostics_period: float = 1.0
    on_model_error: str = "fail"
    model_retry_period: float = 5.0
    warmup: bool = True

    @property
    def input_topic(self) -> str:
        """The topic actually subscribed (image_transport's `/compressed` suffix when asked)."""
        if self.compressed and not self.image_topic.endswith("/compressed"):
            return self.image_topic.rstrip("/") + "/compressed"
        return self.image_topic


def input_reliability(setting: str, publishers: list[str]) -> str:
    """The input reliability to use: `setting`, or for `auto` the one every publisher allows.

    `publishers` are the reliabilities ('reliable' / 'best_effort') of the topic's publishers.
    A reliable subscription only matches reliable publishers; best effort matches all.
    """
    if setting != "auto":
        return setting
    if publishers and all(p == "reliable" for p in publishers):
        return "reliable"
    return "best_effort"


def check_value(name: str, value: Any) -> str | None:
    """Why `value` is not acceptable for parameter `name`, or None when it is."""
    spec = SPECS.get(name)
    if spec is None:
        return f"unknown parameter {name!r}"
    if spec.dynamic_typing:
        try:
            parse_gamma(value)
        except ValueError as exc:
            return str(exc)
        return None
    expected = type(spec.default)
    # A double parameter may receive an integer from YAML or the command line (`-p x:=1`).
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        return f"{name} must be a {expected.__name__}, got {type(value).__name__} {value!r}"
    return _check_rules(spec, value)


def _check_rules(spec: ParamSpec, value: Any) -> str | None:
    """The choices, range and format rules of a value already of the right type."""
    name = spec.name
    if spec.choices and value not in spec.choices:
        return f"{name} {value!r} is not one of {', '.join(spec.choices)}"
    low_high = spec.int_range or spec.float_range
    if low_high is not None and not low_high[0] <= value <= low_high[1]:
        return f"{name} {value!r} is outside [{low_high[0]}, {low_high[1]}]"
    if name == "device":
        try:
            parse_device(value)
        except UserError:
            return (f"device {value!r} must be cpu, cuda or cuda:N (NVIDIA), or gpu or gpu:N "
                    "(an Intel GPU, OpenVINO)")
    if name in ("model_path", "image_topic") and not value.strip():
        return f"{name} is empty"
    return None


def settings_from_values(values: dict[str, Any], base: NodeSettings | None = None) -> NodeSettings:
    """Validated settings from {name: value}; every bad value is named in one UserError."""
    problems = [reason for name, value in values.items() if (reason := check_value(name, value))]
    if problems:
        raise UserError("; ".join(problems))
    typed: dict[str, Any] = {}
    for name, value in values.items():
        if name == "gamma":
            typed[name] = parse_gamma(value)
        elif isinstance(SPECS[name].default, float):
            typed[name] = float(value)
        else:
            typed[name] = value
    return dataclasses.replace(base or NodeSettings(), **typed)


def unknown_names(names: list[str]) -> list[str]:
    """Parameter names given to the node that it does not declare (typos in a params file)."""
    return sorted(n for n in names if n not in SPECS and n not in _BUILTIN
                  and not n.startswith("qos_overrides."))


def override_names(node: Node) -> list[str]:
    """The parameter names given to NODE (`--ros-args -p`, params files), declared or not."""
    # rclpy has no public accessor for the overrides it parsed (Humble to Kilted): read its own.
    return list(getattr(node, "_parameter_overrides", {}))


def declare_parameters(node: Node, *, writable: bool = False) -> NodeSettings:
    """Declare every parameter with its descriptor on `node` and return the validated settings.

    `writable`: none is declared read-only (the managed node refuses a change of those itself
    unless it is unconfigured). Raises UserError naming every bad or unknown value (the node
    then fails at start).
    """
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    from rclpy.exceptions import (
        InvalidParameterTypeException,
        InvalidParameterValueException,
    )

    unknown = unknown_names(override_names(node))
    if unknown:
        raise UserError(
            f"unknown parameter(s) {unknown}; the node declares {sorted(SPECS)}"
        )
    declarations = []
    for spec in PARAMETERS:
        descriptor = ParameterDescriptor(
            description=spec.description, read_only=spec.read_only and not writable,
            dynamic_typing=spec.dynamic_typing,
        )
        if spec.choices:
            descriptor.additional_constraints = f"one of: {', '.join(spec.choices)}"
        if spec.int_range is not None:
            descriptor.integer_range = [IntegerRange(
                from_value=spec.int_range[0], to_value=spec.int_range[1], step=0)]
        if spec.float_range is not None:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=spec.float_range[0], to_value=spec.float_range[1], step=0.0)]
        declarations.append((spec.name, spec.default, descriptor))
    try:
        params = node.declare_parameters("", declarations)
    except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
        raise UserError(f"bad parameter value: {exc}") from None
    return settings_from_values({p.name: p.value for p in params})
