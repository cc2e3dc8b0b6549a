"""`UncertaintySegNode`: camera image in; class ids, confidence and the certain mask out.

The plain node: it loads the model, subscribes and publishes from the start until it is
destroyed. Its parts are shared with the managed node (`lifecycle_node.py`): `NodeCore` holds
the parameters, statistics, model and /diagnostics, `Outputs` the publishers and `FramePath` the
camera subscription and the worker thread that infers and publishes every output with the input
header. A frame that fails before its outputs are complete publishes nothing, so a planner
never reads a stale or empty-but-certain mask.
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.ros.frame_path import FramePath
from uncertainty_seg_node.ros.node_core import NodeCore
from uncertainty_seg_node.ros.outputs import Outputs
from uncertainty_seg_node.ros.params import NODE_NAME


class UncertaintySegNode(Node):
    """Segmentation with per-pixel confidence and a gamma-thresholded certain mask."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._path: FramePath | None = None  # destroy_node may run after a failed start
        self._core = NodeCore(self)
        model = self._core.load_model()
        if model.predictor is None and self._core.settings.on_model_error == "fail":
            raise UserError(model.error)
        outputs = Outputs(self.create_publisher, bool(self._core.settings.camera_info_topic))
        self._path = FramePath(self, self._core, model, outputs)
        self.get_logger().info(
            f"model {model.path} ({model.backend_name}); publishing under "
            f"{self.get_fully_qualified_name()}/"
        )

    def destroy_node(self) -> None:
        """Stop the worker before the publishers go away."""
        if self._path is not None:
            self._path.stop()
            self._path = None
        super().destroy_node()
