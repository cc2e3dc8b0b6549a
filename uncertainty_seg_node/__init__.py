"""uncertainty_seg_node: segmentation with trustworthy confidence (Masked gamma-SSL) for ROS 2.

The core (model, data, training, export, inference, metrics) never imports rclpy; only
`uncertainty_seg_node.ros` and the live evaluation (`replay/live.py`, which subscribes to a
running node) do, as `test/test_lint.py` checks.
"""

__version__ = "0.1.0"
