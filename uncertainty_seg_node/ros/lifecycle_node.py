"""`UncertaintySegLifecycleNode`: the node as a managed (lifecycle) node, for Nav2/Autoware stacks.

Same name, parameters, topics and outputs as the plain node; a lifecycle manager (or
`ros2 lifecycle set`) drives it:

- starts **unconfigured**: parameters and /diagnostics only, no model, no output publishers.
- **configure** loads the model (building or loading the TensorRT engine with that backend, and
  the warm-up inference) and creates the output publishers. When the model cannot be loaded it
  logs the reason, returns FAILURE and stays unconfigured; /diagnostics shows the reason as an
  ERROR until a configure succeeds.
- **activate** subscribes to the camera and starts the worker: every frame's outputs go out
  with the input header.
- **deactivate** unsubscribes and stops the worker; from the moment it starts, nothing more is
  published, not even the outputs of a frame still being inferred (a frame's planner outputs go
  out all together or not at all). No last "all uncertain" mask is sent: a planner sees the
  output topics fall silent, exactly as when the node or the camera dies, and must treat the
  last mask as ageing by its stamp. The outputs are volatile, so nothing old is delivered to a
  subscriber that joins later. /diagnostics turns WARN "inactive: ... publishing nothing", with
  `lifecycle_state` among its values.
- **cleanup** destroys the output publishers and frees the model.
- **shutdown** (from any state) does all of the above; the process then exits with code 0.

The parameters that are read-only on the plain node (model_path, backend, image_topic, ...) may
change here while the node is unconfigured; a change in any other state is refused with the
reason. on_model_error and model_retry_period do not apply: a failed configure is the error.
"""

from __future__ import annotations

import time
from typing import Any

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.task import Future

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.ros.frame_pipeline import FramePipeline
from uncertainty_seg_node.ros.node_core import NodeCore
from uncertainty_seg_node.ros.outputs import Outputs
from uncertainty_seg_node.ros.params import NODE_NAME

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class UncertaintySegLifecycleNode(LifecycleNode):
    """The managed node; `finished` completes once it is shut down (finalized)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._outputs: Outputs | None = None
        self._pipeline: FramePipeline | None = None
        self._core = NodeCore(self, lifecycle_state=self._state_label)
        self.finished: Future = Future()
        self.get_logger().info("unconfigured; configure, then activate it to publish")

    def _state_label(self) -> str:
        """The current state's label, from rclpy's state machine (rclpy has no public getter)."""
        return str(self._state_machine.current_state[1])

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model; the log says how long it took (a first one may assemble or build it).

        A lifecycle manager waits for this answer: docs/lifecycle.md gives the time a first
        configure of the default model takes, and the Nav2 settings for it.
        """
        start = time.monotonic()
        try:
            loader = self._core.start_loader()
        except Exception as exc:  # noqa: BLE001 - any reason is logged and fails the transition
            return self._configure_failed(f"{type(exc).__name__}: {exc}")
        if loader.predictor is None:
            return self._configure_failed(loader.error)
        self._outputs = Outputs(self.create_lifecycle_publisher,
                                bool(self._core.settings.camera_info_topic))
        self.get_logger().info(f"configured in {time.monotonic() - start:.1f} s: model "
                               f"{loader.path} ({loader.backend_name})")
        return SUCCESS

    def _configure_failed(self, reason: str) -> TransitionCallbackReturn:
        self.get_logger().error(f"configure failed, staying unconfigured: {reason}")
        return FAILURE

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)  # enables the output publishers
        if result != SUCCESS:
            return result
        assert self._core.loader is not None and self._outputs is not None
        try:
            self._pipeline = FramePipeline(self, self._core, self._core.loader, self._outputs)
        except UserError as exc:  # e.g. a QoS override that would do nothing
            self.get_logger().error(f"activate failed, staying inactive: {exc}")
            super().on_deactivate(state)
            return FAILURE
        self.get_logger().info(f"active: publishing under {self.get_fully_qualified_name()}/")
        return SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        self.get_logger().info("inactive: publishing nothing")
        return super().on_deactivate(state)  # disables the output publishers

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.get_logger().info("cleaned up: model freed")
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.get_logger().info(f"shut down from {state.label}")
        self.finished.set_result(True)
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition raised: free everything and go back to unconfigured."""
        self.get_logger().error(f"a transition from {state.label} raised; cleaning up")
        self._release()
        return SUCCESS

    def _stop(self) -> None:
        if self._pipeline is not None:
            self._pipeline.stop()
            self._pipeline = None

    def _release(self) -> None:
        """Stop publishing, destroy the output publishers and drop the model."""
        self._stop()
        if self._outputs is not None:
            self._outputs.destroy(self.destroy_lifecycle_publisher)
            self._outputs = None
        self._core.loader = None

    def destroy_node(self) -> None:
        """Stop the worker before the publishers go away (Ctrl-C in any state)."""
        self._stop()
        super().destroy_node()
