"""uncertainty_seg_node: segmentation with trustworthy confidence (Masked gamma-SSL) for ROS 2.

The core (model, data, training, export, inference, metrics) never imports rclpy; only
`uncertainty_seg_node.ros` (the node) and `uncertainty_seg_node.ros_drivers` (processes that
drive it over DDS) do, as `test/test_lint.py` checks.
"""

__version__ = "0.1.0"
