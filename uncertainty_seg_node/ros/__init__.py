"""The ROS 2 node: everything the node process runs, and nothing else.

`node.py` holds the `Node` subclass, `node_main.py` its `main()`; `params.py`, `conversions.py`,
`diagnostics.py`, `input_qos.py`, `model_loader.py` and `worker.py` are the pieces the node is
made of, tested without a ROS graph where they can be (`fault_injection.py` is test-only, off
unless its environment variable is set). The processes that drive the node over DDS (test
harness, `bench-node`, the demo drive, live evaluation) are in `uncertainty_seg_node.ros_drivers`.
"""
