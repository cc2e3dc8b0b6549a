"""`uncertainty_seg_node` console script (what `ros2 run` and the launch file start)."""

from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.ros.params import NODE_NAME


def main(args: list[str] | None = None) -> int:
    """Spin the node until SIGINT/SIGTERM; a node that cannot start exits 2 with one line."""
    try:
        with rclpy.init(args=args):
            from uncertainty_seg_node.ros.node import UncertaintySegNode

            try:
                node = UncertaintySegNode()
            except UserError as exc:
                rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {exc}")
                return 2
            try:
                rclpy.spin(node)
            finally:
                node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
