"""launch_testing test of the installed `run.launch.py` (the ROS convention for launch files).

Run by test/test_launch_testing.py as `launch_test test/launch/run_launch_test.py
model_path:=M image_topic:=T` inside a sourced colcon install (the file name keeps plain pytest
from collecting it outside that environment). It includes the package's launch file, waits for
the node to say it is publishing, checks that the node's topics exist with their types, and
after shutdown that every process exited with code 0.
"""

from __future__ import annotations

import time
import unittest
from typing import Any

import launch_testing
import launch_testing.actions
import launch_testing.asserts
import launch_testing.markers
import pytest
import rclpy
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

NODE = "/uncertainty_seg_node"
IMAGE = "sensor_msgs/msg/Image"
EXPECTED = {
    f"{NODE}/segmentation": IMAGE,
    f"{NODE}/confidence": IMAGE,
    f"{NODE}/certain_mask": IMAGE,
    f"{NODE}/segmentation_color": IMAGE,
    f"{NODE}/confidence_color": IMAGE,
    "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
}


@pytest.mark.launch_test
@launch_testing.markers.keep_alive
def generate_test_description() -> tuple[LaunchDescription, dict[str, Any]]:
    launch_file = PathJoinSubstitution([FindPackageShare("uncertainty_seg_node"), "launch",
                                        "run.launch.py"])
    return LaunchDescription([
        DeclareLaunchArgument("model_path", default_value=""),
        DeclareLaunchArgument("image_topic", default_value="/camera/image_raw"),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(launch_file),
            launch_arguments={"model_path": LaunchConfiguration("model_path"),
                              "image_topic": LaunchConfiguration("image_topic"),
                              "device": "cpu"}.items()),
        launch_testing.actions.ReadyToTest(),
    ]), {}


class TestRunningNode(unittest.TestCase):
    """While the launch runs: the node is up, with its topics and their types."""

    def test_node_reports_ready(self, proc_output: Any) -> None:
        proc_output.assertWaitFor(f"publishing under {NODE}/", timeout=120)

    def test_topics_and_types(self, proc_output: Any, test_args: dict[str, str]) -> None:
        proc_output.assertWaitFor(f"publishing under {NODE}/", timeout=120)
        camera = test_args.get("image_topic", "/camera/image_raw")
        context = rclpy.Context()
        rclpy.init(args=[], context=context)
        node = rclpy.create_node("launch_test_probe", context=context)
        try:
            wanted = dict(EXPECTED, **{camera: IMAGE})
            found: dict[str, list[str]] = {}
            readers: list[str] = []
            deadline = time.monotonic() + 30.0
            while time.monotonic() < deadline:  # discovery, node names included, takes a while
                found = dict(node.get_topic_names_and_types())
                readers = [info.node_name
                           for info in node.get_subscriptions_info_by_topic(camera)]
                if all(name in found for name in wanted) and NODE.lstrip("/") in readers:
                    break
                time.sleep(0.1)
            for name, kind in wanted.items():
                self.assertIn(name, found, f"{name} missing; the graph has {sorted(found)}")
                self.assertEqual(found[name], [kind], name)
            self.assertIn(NODE.lstrip("/"), readers, f"{camera} is read by {readers} only")
        finally:
            node.destroy_node()
            context.try_shutdown()


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    """After the launch shuts down (SIGINT to the node): every process exited with 0."""

    def test_exit_codes(self, proc_info: Any) -> None:
        launch_testing.asserts.assertExitCodes(proc_info)
