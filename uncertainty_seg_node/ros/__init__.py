"""The ROS 2 side of the package; with `replay/live.py`, the only code that imports rclpy.

`node.py` holds the `Node` subclass, `node_main.py` its `main()`; `params.py`, `conversions.py`,
`diagnostics.py` and `worker.py` are the pieces the node is made of, tested without a ROS graph
where they can be. `harness.py` starts the node as a process and talks to it over DDS (tests and
`uncertainty-seg bench-node`).
"""
