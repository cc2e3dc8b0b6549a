"""`UncertaintySegNode`: camera image in; class ids, confidence and the certain mask out.

The plain node: it loads the model, subscribes and publishes from the start until it is
destroyed. Its parts are shared with the managed node (`lifecycle_node.py`): `NodeCore` holds
the parameters, statistics, model loader and /diagnostics, `Outputs` the publishers and
`FramePipeline` the camera subscription and the worker thread that infers and publishes every
output with the input header. A frame that fails before its outputs are complete publishes
nothing, so a planner never reads a stale or empty-but-certain mask.
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.ros.frame_pipeline import FramePipeline
from uncertainty_seg_node.ros.node_core import NodeCore
from uncertainty_seg_node.ros.outputs import Outputs
from uncertainty_seg_node.ros.params import NODE_NAME


class UncertaintySegNode(Node):
    """Segmentation with per-pixel confidence and a gamma-thresholded certain mask."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._pipeline: FramePipeline | None = None  # destroy_node may run after a failed start
        self._core = NodeCore(self)
        loader = self._core.start_loader()
        if loader.predictor is None and self._core.settings.on_model_error == "fail":
            raise UserError(loader.error)
        outputs = Outputs(self.create_publisher, bool(self._core.settings.camera_info_topic))
        self._pipeline = FramePipeline(self, self._core, loader, outputs)
        self.get_logger().info(
            f"model {loader.path} ({loader.backend_name}); publishing under "
            f"{self.get_fully_qualified_name()}/"
        )

    def destroy_node(self) -> None:
        """Stop the worker before the publishers go away."""
        if self._pipeline is not None:
            self._pipeline.stop()
            self._pipeline = None
        super().destroy_node()
