"""Start uncertainty_seg_node on a camera topic, optionally with RViz.

    ros2 launch uncertainty_seg_node run.launch.py model_path:=/path/model.onnx \
        image_topic:=/camera/image_raw use_rviz:=true
    ros2 launch uncertainty_seg_node run.launch.py namespace:=front device:=cuda:0 \
        use_sim_time:=true params_file:=/path/my_params.yaml      # replaying a bag
    ros2 launch uncertainty_seg_node run.launch.py managed:=true       # a lifecycle node

Every parameter comes from `params_file` (the package's config/params.yaml by default); the
arguments below override it only when given, so editing the params file is never undone by a
launch default. rviz2 is not a dependency of the package (Qt and OGRE have no place on a
headless robot): `use_rviz:=true` needs it installed (`apt install ros-$ROS_DISTRO-rviz2`), and on
a machine without it warns and starts the node alone: a missing viewer must not take the node
down with it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.logging import get_logger
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
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
    "backend": "Inference backend: auto, onnxruntime, openvino, torch or tensorrt. Empty: the "
               "params file's value.",
    "gamma": "Confidence threshold of the certain mask: a float in [0, 1] or auto (the model's "
             "calibrated value). Empty: the params file's value.",
    "compressed": "true to subscribe to <image_topic>/compressed. Empty: the params file's value.",
    "device": "Device of the backend: cpu, cuda or cuda:N (NVIDIA), gpu or gpu:N (an Intel GPU, "
              "through openvino). Empty: the params file's value.",
    "camera_info_topic": "The camera's CameraInfo topic, republished on ~/camera_info with each "
                         "output's stamp. Empty: the params file's value.",
}


# Typed as YAML (`gamma:=0.6` a double, `compressed:=true` a bool); paths and topics stay strings.
YAML_TYPED = ("gamma", "compressed")


def _is_true(context: LaunchContext, name: str) -> bool:
    return LaunchConfiguration(name).perform(context).strip().lower() in ("true", "1", "yes")


def _rviz2_installed() -> bool:
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix("rviz2")
    except (PackageNotFoundError, OSError):  # OSError: no ament index in the environment
        return False
    return True


def _nodes(context: LaunchContext) -> list[Node]:
    overrides: dict[str, object] = {}
    for name in PARAMETER_ARGUMENTS:
        value = LaunchConfiguration(name).perform(context)
        if value != "":
            overrides[name] = yaml.safe_load(value) if name in YAML_TYPED else value
    sim_time = {"use_sim_time": _is_true(context, "use_sim_time")}
    namespace = LaunchConfiguration("namespace").perform(context)
    # The managed node starts unconfigured; a lifecycle manager (or `ros2 lifecycle set`)
    # configures and activates it.
    managed = _is_true(context, "managed")
    nodes = [(LifecycleNode if managed else Node)(
        package=PACKAGE,
        executable="uncertainty_seg_node" if not managed else "uncertainty_seg_lifecycle_node",
        name="uncertainty_seg_node",
        namespace=namespace,
        parameters=[LaunchConfiguration("params_file"), overrides, sim_time],
        output="screen",
        emulate_tty=True,
    )]
    if _is_true(context, "use_rviz") and not _rviz2_installed():
        get_logger("run.launch.py").warning(
            "use_rviz:=true, but rviz2 is not installed (apt install ros-$ROS_DISTRO-rviz2): "
            "starting the node without RViz")
    elif _is_true(context, "use_rviz"):
        from uncertainty_seg_node.ros.rviz_config import rviz_config_for

        # The layout follows the namespace and camera topic of this launch.
        source = Path(LaunchConfiguration("rviz_config").perform(context))
        camera = LaunchConfiguration("image_topic").perform(context)
        config = Path(tempfile.mkdtemp(prefix="uncertainty_seg_rviz_")) / source.name
        config.write_text(rviz_config_for(source.read_text(), namespace, camera))
        nodes.append(Node(package="rviz2", executable="rviz2", name="rviz2",
                          arguments=["-d", str(config)], parameters=[sim_time], output="log"))
    return nodes


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
                        "uncertainty_seg_node/... (the RViz layout follows it).",
        ),
        DeclareLaunchArgument(
            "use_sim_time", default_value="false",
            description="true when replaying a bag with `ros2 bag play --clock`: the node and "
                        "RViz take time from /clock.",
        ),
        DeclareLaunchArgument(
            "managed", default_value="false",
            description="true to start the managed (lifecycle) node, unconfigured: configure "
                        "loads the model, activate starts publishing (ros2 lifecycle set, or a "
                        "lifecycle manager).",
        ),
        DeclareLaunchArgument(
            "use_rviz", default_value="false",
            description="Start RViz with the camera, segmentation, confidence and certain mask. "
                        "Needs rviz2, which package.xml leaves out for headless robots: apt "
                        "install ros-$ROS_DISTRO-rviz2 (without it: a warning, and the node "
                        "alone).",
        ),
        DeclareLaunchArgument(
            "rviz_config",
            default_value=PathJoinSubstitution([share, "config", "uncertainty_seg.rviz"]),
            description="RViz configuration file.",
        ),
        OpaqueFunction(function=_nodes),
    ])
