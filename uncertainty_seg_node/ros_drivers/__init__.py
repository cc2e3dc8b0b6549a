"""Processes that drive the node over real DDS; the node process never imports them.

The test harness, `bench-node`, the demo drive and live evaluation import rclpy here.
"""
