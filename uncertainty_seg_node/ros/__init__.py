"""The ROS 2 node: everything the node process runs, and nothing else.

`node.py` holds the plain `Node` subclass, `lifecycle_node.py` the managed (lifecycle) one and
`node_main.py` the `main()` of both. They are made of the same pieces: `node_core.py`
(parameters, statistics, model, /diagnostics), `outputs.py` (publishers) and `frame_pipeline.py`
(camera subscription, worker thread, publishing), which use `params.py`, `conversions.py`,
`diagnostics.py`, `input_qos.py`, `model_loader.py` and `worker.py`, tested without a ROS
graph where they can be (`fault_injection.py` is test-only, off unless its environment variable
is set). The processes that drive the node over DDS (test harness, `bench-node`, the demo drive,
live evaluation) are in `uncertainty_seg_node.ros_drivers`.
"""
