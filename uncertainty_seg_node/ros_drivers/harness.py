"""Drive the node from outside, over real DDS: start it as a process, feed it, read its outputs.

`NodeProcess` runs the `uncertainty_seg_node` console script (as `ros2 run` would) with a params
file and `-p` overrides in an isolated ROS domain; `GraphClient` is a second rclpy node in its
own context that publishes camera frames, collects every output by stamp, reads /diagnostics
and sets parameters through the node's SetParameters service. The integration tests and
`uncertainty-seg bench-node` are both built on these two.
"""

from __future__ import annotations

import array
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from uncertainty_seg_node.image_codec.raw import message_array
from uncertainty_seg_node.ros.conversions import array_to_image
from uncertainty_seg_node.ros.dds import apply_default_profile
from uncertainty_seg_node.ros.params import NODE_NAME

OUTPUTS = ("segmentation", "confidence", "certain_mask", "segmentation_color", "confidence_color")
StampKey = tuple[int, int]


def node_executable(name: str = "uncertainty_seg_node") -> list[str]:
    """The installed console script `name` (next to this Python first), else `python -c`."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found:
        return [found]
    main = "lifecycle_main" if name == "uncertainty_seg_lifecycle_node" else "main"
    return [sys.executable, "-c", "import sys; from uncertainty_seg_node.ros.node_main import "
            f"{main}; sys.exit({main}())"]


def ros_value(value: Any) -> str:
    """A Python value as a `-p name:=value` string (YAML, which rcl parses)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class NodeProcess:
    """The node as its own process; stop() sends SIGINT and returns the exit code."""

    def __init__(
        self,
        params: dict[str, Any],
        *,
        domain_id: int,
        params_file: str | Path | None = None,
        log_path: str | Path | None = None,
        namespace: str = "",
        env: dict[str, str] | None = None,
        executable: str = "uncertainty_seg_node",
    ) -> None:
        self.command = [*node_executable(executable), "--ros-args"]
        if namespace:
            self.command += ["-r", f"__ns:={namespace}"]
        if params_file is not None:
            self.command += ["--params-file", str(params_file)]
        for name, value in params.items():
            self.command += ["-p", f"{name}:={ros_value(value)}"]
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id), PYTHONUNBUFFERED="1",
                        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", **(env or {}))
        self.log_path = Path(log_path) if log_path else None
        self._log: Any = None
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0  # time.perf_counter() at start()

    def start(self) -> NodeProcess:
        sink: Any = subprocess.DEVNULL
        if self.log_path is not None:
            self._log = sink = self.log_path.open("wb")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(self.command, env=self.env, stdout=sink,
                                        stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_kb(self, field: str = "VmRSS") -> int:
        """Resident memory of the node process in kB: now (VmRSS) or its peak (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field} for process {self.pid}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
        """Send `sig`, wait; kill after `timeout` s. Returns the exit code.

        A node that served a live evaluation took up to 13 s to exit on a loaded 2-core machine
        (1-4 s otherwise), hence the generous default.
        """
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5.0)
        if self._log is not None:
            self._log.close()
            self._log = None
        return int(self.process.returncode)

    def __enter__(self) -> NodeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ros_time_from_ns(stamp_ns: int) -> Time:
    return Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)


def key_of(header: Header) -> StampKey:
    return (int(header.stamp.sec), int(header.stamp.nanosec))


def make_image(array_: np.ndarray, encoding: str, stamp_ns: int, frame_id: str) -> Image:
    """A camera Image message of an (H, W[, C]) array, rows tightly packed."""
    header = Header(stamp=ros_time_from_ns(stamp_ns), frame_id=frame_id)
    return array_to_image(array_, encoding, header)


def output_array(msg: Image) -> np.ndarray:
    """A published output (mono8 / rgb8 / 32FC1) as a numpy array."""
    return message_array(msg)[0]


def call_service(client: Any, request: Any, timeout: float = 10.0) -> Any:
    """The response of `client` (spun by another thread) to `request`; TimeoutError if none."""
    future = client.call_async(request)
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    if not done.wait(timeout):
        raise TimeoutError(f"{client.srv_name} did not answer in {timeout} s")
    response = future.result()
    assert response is not None
    return response


class GraphClient:
    """A camera and a listener on the node's topics, spun in a background thread."""

    def __init__(
        self,
        domain_id: int,
        *,
        image_topic: str = "/camera/image_raw",
        node_name: str = f"/{NODE_NAME}",
        outputs: tuple[str, ...] = OUTPUTS,
        keep: int = 256,
        camera_info_topic: str | None = None,
    ) -> None:
        apply_default_profile()  # the same transport as the node (a camera-sized publisher)
        self.context = rclpy.Context()
        self.context.init(args=[], domain_id=domain_id)
        self.node = rclpy.create_node("uncertainty_seg_client", context=self.context,
                                      enable_rosout=False)
        self.node_name = node_name
        self._lock = threading.Condition()
        self._frames: OrderedDict[StampKey, dict[str, Image]] = OrderedDict()
        self.arrival: dict[StampKey, dict[str, float]] = {}  # perf_counter() at receipt
        self.counts = dict.fromkeys(outputs, 0)
        self._keep = keep
        self._diagnostics: list[tuple[int, dict[str, str]]] = []  # (sequence, values)
        self._diagnostics_seq = 0
        camera_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.node.create_publisher(Image, image_topic, camera_qos)
        self.compressed_pub = self.node.create_publisher(
            CompressedImage, image_topic.rstrip("/") + "/compressed", camera_qos)
        out_qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self._subs = [
            self.node.create_subscription(
                Image, f"{node_name}/{name}",
                lambda msg, name=name: self._on_output(name, msg), out_qos)
            for name in outputs
        ]
        self.info_pub = None
        if camera_info_topic is not None:  # the camera's CameraInfo, and the node's copy
            self.info_pub = self.node.create_publisher(CameraInfo, camera_info_topic, camera_qos)
            self._subs.append(self.node.create_subscription(
                CameraInfo, f"{node_name}/camera_info",
                lambda msg: self._on_output("camera_info", msg), out_qos))
            self.counts["camera_info"] = 0
        self._subs.append(self.node.create_subscription(
            DiagnosticArray, "/diagnostics", self._on_diagnostics, 10))
        self._set_params: Any = self.node.create_client(SetParameters,
                                                   f"{node_name}/set_parameters")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self._spin, daemon=True)
        self._spinner.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - context shut down by close()
            pass

    def _on_output(self, name: str, msg: Any) -> None:
        now = time.perf_counter()
        key = key_of(msg.header)
        with self._lock:
            self.counts[name] += 1
            self._frames.setdefault(key, {})[name] = msg
            self.arrival.setdefault(key, {})[name] = now
            while len(self._frames) > self._keep:
                old, _ = self._frames.popitem(last=False)
                self.arrival.pop(old, None)
            self._lock.notify_all()

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.hardware_id == self.node_name:
                values = {kv.key: kv.value for kv in status.values}
                values["_level"] = str(status.level[0] if isinstance(status.level, bytes)
                                       else int(status.level))
                values["_message"] = status.message
                with self._lock:
                    self._diagnostics_seq += 1
                    self._diagnostics.append((self._diagnostics_seq, values))
                    del self._diagnostics[:-20]
                    self._lock.notify_all()

    # -- waiting -----------------------------------------------------------------------------

    def wait_until_connected(self, timeout: float = 30.0, compressed: bool = False) -> bool:
        """True once the node subscribes to our camera and publishes every output we read."""
        pub = self.compressed_pub if compressed else self.image_pub
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pub.get_subscription_count() > 0 and all(
                    sub.get_publisher_count() > 0 for sub in self._subs[:-1]):
                return True
            time.sleep(0.02)
        return False

    def output_publishers(self) -> int:
        """How many publishers the output topics this client reads have (0: none left)."""
        return sum(sub.get_publisher_count() for sub in self._subs[:-1])

    def wait_input_reliable(self, timeout: float = 10.0, compressed: bool = False) -> bool:
        """True once the node's camera subscription is reliable.

        With qos_reliability=auto the node follows our reliable publisher; from then on
        camera-sized frames cannot lose fragments.
        """
        pub = self.compressed_pub if compressed else self.image_pub
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            infos = self.node.get_subscriptions_info_by_topic(pub.topic_name)
            if infos and all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                             for i in infos) and pub.get_subscription_count() == len(infos):
                return True
            time.sleep(0.02)
        return False

    def wait_outputs(self, key: StampKey, names: tuple[str, ...] = ("segmentation",
                     "confidence", "certain_mask"), timeout: float = 10.0) -> dict[str, Image]:
        """The outputs stamped `key` once all `names` arrived ({} on timeout)."""
        with self._lock:
            self._lock.wait_for(lambda: set(names) <= set(self._frames.get(key, {})), timeout)
            got = dict(self._frames.get(key, {}))
        return got if set(names) <= set(got) else {}

    def outputs_for(self, key: StampKey) -> dict[str, Image]:
        with self._lock:
            return dict(self._frames.get(key, {}))

    def wait_diagnostics(self, predicate: Callable[[dict[str, str]], bool] | None = None,
                         timeout: float = 10.0) -> dict[str, str]:
        """The first /diagnostics values arriving from now on that satisfy `predicate`.

        Returns {} on timeout. Values are the status's key/values plus `_level` and `_message`.
        """
        found: dict[str, str] = {}
        with self._lock:
            after = self._diagnostics_seq

            def ready() -> bool:
                for seq, values in self._diagnostics:
                    if seq > after and (predicate is None or predicate(values)):
                        found.update(values)
                        return True
                return False

            self._lock.wait_for(ready, timeout)
        return found

    # -- sending -----------------------------------------------------------------------------

    def publish_image(self, array_: np.ndarray, encoding: str, stamp_ns: int,
                      frame_id: str = "camera") -> StampKey:
        msg = make_image(array_, encoding, stamp_ns, frame_id)
        self.image_pub.publish(msg)
        return key_of(msg.header)

    def publish_compressed(self, data: bytes, fmt: str, stamp_ns: int,
                           frame_id: str = "camera") -> StampKey:
        msg = CompressedImage(format=fmt)
        msg.header = Header(stamp=ros_time_from_ns(stamp_ns), frame_id=frame_id)
        msg.data = array.array("B", data)
        self.compressed_pub.publish(msg)
        return key_of(msg.header)

    def set_parameters(self, values: dict[str, Any], timeout: float = 10.0
                       ) -> list[SetParametersResult]:
        """Set parameters on the node through its SetParameters service."""
        if not self._set_params.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f"{self.node_name}/set_parameters is not available")
        request = SetParameters.Request()
        request.parameters = [Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
        return list(call_service(self._set_params, request, timeout).results)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._spinner.join(5.0)
