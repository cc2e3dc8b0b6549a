"""The console scripts `uncertainty_seg_node` and `uncertainty_seg_lifecycle_node` (managed).

What `ros2 run` and the launch file start (`managed:=true` starts the second).
"""

from __future__ import annotations

# First, so that it sees the parent pid as early as this process can (parent_death.py).
from uncertainty_seg_node.ros.parent_death import exit_with_parent

# isort: split
import logging
import signal
import sys

import rclpy
from rclpy.executors import ExternalShutdownException

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.ros.dds import apply_default_profile
from uncertainty_seg_node.ros.params import NODE_NAME


def main(args: list[str] | None = None, *, managed: bool = False) -> int:
    """Spin the node until SIGINT/SIGTERM; a node that cannot start exits 2 with one line.

    `managed`: the lifecycle node, which also ends (exit code 0) once it is shut down.
    """
    # rclpy's handler shuts the context down (spin then raises ExternalShutdownException) and
    # chains to the previous handler: for SIGTERM that must not be the default, which would
    # kill the process before the worker thread is stopped.
    signal.signal(signal.SIGTERM, lambda *_: None)
    # The library's own log lines (e.g. a TensorRT engine build's progress) go to the console.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(levelname)s] [%(name)s]: %(message)s"))
    logging.getLogger("uncertainty_seg_node").addHandler(handler)
    logging.getLogger("uncertainty_seg_node").setLevel(logging.INFO)
    profile = apply_default_profile()  # before the first participant is created
    # rclpy.init is a context manager only from Kilted on; init + try_shutdown works on Humble,
    # Jazzy and Kilted alike.
    rclpy.init(args=args)
    try:
        # After rclpy.init: its SIGTERM handler turns the parent's death into a clean stop.
        if not exit_with_parent(signal.SIGTERM):
            rclpy.logging.get_logger(NODE_NAME).warning(
                "the process that started this node has already exited; not starting")
            return 0
        from uncertainty_seg_node.ros.lifecycle_node import UncertaintySegLifecycleNode
        from uncertainty_seg_node.ros.node import UncertaintySegNode

        try:
            node = UncertaintySegLifecycleNode() if managed else UncertaintySegNode()
        except UserError as exc:
            rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {exc}")
            return 2
        if profile is not None:
            node.get_logger().info(f"Fast DDS transport profile: {profile}")
        try:
            if isinstance(node, UncertaintySegLifecycleNode):
                rclpy.spin_until_future_complete(node, node.finished)
            else:
                rclpy.spin(node)
        finally:
            node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        rclpy.try_shutdown()
    return 0


def lifecycle_main(args: list[str] | None = None) -> int:
    """The managed node (`uncertainty_seg_lifecycle_node`)."""
    return main(args, managed=True)


if __name__ == "__main__":
    sys.exit(main())
