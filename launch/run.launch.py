"""Start uncertainty_seg_node on a camera topic, optionally with RViz.

    ros2 launch uncertainty_seg_node run.launch.py model_path:=/path/model.onnx \
        image_topic:=/camera/image_raw use_rviz:=true

Every parameter comes from `params_file` (the package's config/params.yaml by default); the
arguments below override it only when given, so editing the params file is never undone by a
launch default.
"""

from __future__ import annotations

import yaml
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchContext, LaunchDescription

PACKAGE = "uncertainty_seg_node"
# Launch arguments that override the node parameter of the same name when not empty.
PARAMETER_ARGUMENTS = {
    "model_path": "Model file (.onnx, .pt, .engine, or .delta.safetensors assembled with its "
                  "backbone on first use); relative paths resolve in the package share "
                  "directory. Empty: the params file's value.",
    "image_topic": "Camera topic (sensor_msgs/Image; <topic>/compressed with compressed:=true)."
                   " Empty: the params file's value.",
    "backend": "Inference backend: auto, onnxruntime, torch or tensorrt. Empty: the params "
               "file's value.",
    "gamma": "Confidence threshold of the certain mask: a float in [0, 1] or auto (the model's "
             "calibrated value). Empty: the params file's value.",
    "compressed": "true to subscribe to <image_topic>/compressed. Empty: the params file's value.",
}


# Typed as YAML (`gamma:=0.6` a double, `compressed:=true` a bool); paths and topics stay strings.
YAML_TYPED = ("gamma", "compressed")


def _node(context: LaunchContext) -> list[Node]:
    overrides: dict[str, object] = {}
    for name in PARAMETER_ARGUMENTS:
        value = LaunchConfiguration(name).perform(context)
        if value != "":
            overrides[name] = yaml.safe_load(value) if name in YAML_TYPED else value
    return [Node(
        package=PACKAGE,
        executable="uncertainty_seg_node",
        name="uncertainty_seg_node",
        namespace=LaunchConfiguration("namespace"),
        parameters=[LaunchConfiguration("params_file"), overrides],
        output="screen",
        emulate_tty=True,
    )]


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare(PACKAGE)
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([share, "config", "params.yaml"]),
            description="YAML file with the node's parameters.",
        ),
        *[DeclareLaunchArgument(name, default_value="", description=text)
          for name, text in PARAMETER_ARGUMENTS.items()],
        DeclareLaunchArgument(
            "namespace", default_value="",
            description="Namespace of the node; its topics become /<namespace>/"
                        "uncertainty_seg_node/... (the RViz config expects none).",
        ),
        DeclareLaunchArgument(
            "use_rviz", default_value="false",
            description="Start RViz with the camera, segmentation, confidence and certain mask.",
        ),
        DeclareLaunchArgument(
            "rviz_config",
            default_value=PathJoinSubstitution([share, "config", "uncertainty_seg.rviz"]),
            description="RViz configuration file.",
        ),
        OpaqueFunction(function=_node),
        Node(
            package="rviz2",
            executable="rviz2",
            name="rviz2",
            arguments=["-d", LaunchConfiguration("rviz_config")],
            condition=IfCondition(LaunchConfiguration("use_rviz")),
            output="log",
        ),
    ])
