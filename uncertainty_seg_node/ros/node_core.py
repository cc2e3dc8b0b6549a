"""`NodeCore`: what the plain and the managed node share besides the frame path.

The declared parameters and their set-callback, the statistics, the test-only fault injection,
the model and the /diagnostics publisher. The managed node hands in a function that reads its
lifecycle state from rclpy's state machine (the one record of it), which /diagnostics reports;
it may change the parameters read when it is configured or activated (read-only ones on the
plain node) only while unconfigured.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult

from uncertainty_seg_node.model.artifact import resolve_model_path
from uncertainty_seg_node.ros.diagnostics import NodeStats, status_of, to_diagnostic_array
from uncertainty_seg_node.ros.fault_injection import FaultInjector
from uncertainty_seg_node.ros.model_loader import ModelLoader
from uncertainty_seg_node.ros.params import (
    NODE_NAME,
    SPECS,
    check_value,
    declare_parameters,
    settings_from_values,
)

if TYPE_CHECKING:
    from rclpy.node import Node
    from rclpy.parameter import Parameter


class NodeCore:
    """Parameters, statistics, model and diagnostics of one node (plain or managed)."""

    def __init__(self, node: Node, *, lifecycle_state: Callable[[], str] | None = None) -> None:
        """`lifecycle_state`: the managed node's current state label (None: the plain node)."""
        self._node = node
        self._managed = lifecycle_state is not None
        self._lifecycle_state = lifecycle_state or (lambda: "")
        self.settings = declare_parameters(node, writable=self._managed)
        self.stats = NodeStats()
        self.faults = FaultInjector.from_env()
        if self.faults.enabled:
            node.get_logger().warning("TEST-ONLY fault injection is on (UNCERTAINTY_SEG_TEST_"
                                      "FAULTS=1); never set it on a vehicle")
        self.loader: ModelLoader | None = None
        self._diagnostics = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = node.create_timer(self.settings.diagnostics_period,
                                        self.publish_diagnostics)
        # Humble and Jazzy have no post-set callback: validate and apply in the one callback.
        node.add_on_set_parameters_callback(self._on_set_parameters)

    @property
    def lifecycle_state(self) -> str:
        """The managed node's state ('unconfigured', 'configuring', ...); '' for the plain node."""
        return self._lifecycle_state()

    def start_loader(self) -> ModelLoader:
        """A loader for the model_path parameter, after one load attempt (see its `error`).

        The managed node never waits for a model: a configure that cannot load it fails.
        """
        settings = self.settings
        if self._managed:
            settings = dataclasses.replace(settings, on_model_error="fail")
        self.loader = ModelLoader(resolve_model_path(settings.model_path), settings,
                                 self._node.get_logger(), wrap=self.faults.wrap)
        self.loader.load()
        return self.loader

    # -- parameters --------------------------------------------------------------------------

    def _on_set_parameters(self, params: list[Parameter[Any]]) -> SetParametersResult:
        """Refuse a run-time change with the reason, or apply it (read-only ones rclpy refuses).

        rclpy stores the values only when every callback succeeds, and this is the only one, so
        applying here never leaves the cached settings ahead of the parameters.
        """
        for param in params:
            if param.name in SPECS:
                reason = check_value(param.name, param.value) or self._locked(param.name)
                if reason is not None:
                    return SetParametersResult(successful=False, reason=reason)
        changed = {p.name: p.value for p in params if p.name in SPECS}
        if changed:
            period = self.settings.diagnostics_period
            self.settings = settings_from_values(changed, base=self.settings)
            if self.settings.diagnostics_period != period:
                self._node.destroy_timer(self._timer)
                self._timer = self._node.create_timer(self.settings.diagnostics_period,
                                                      self.publish_diagnostics)
            self._node.get_logger().info(f"parameters changed: {changed}")
        return SetParametersResult(successful=True)

    def _locked(self, name: str) -> str | None:
        """Managed node: why `name` cannot change in the current state (None when it can)."""
        if not self._managed or not SPECS[name].read_only:
            return None
        state = self.lifecycle_state
        if state == "unconfigured":
            return None
        return (f"{name} is read by configure and activate; it can change only while the node "
                f"is unconfigured (it is {state}): deactivate and clean it up, "
                f"set it, then configure and activate again")

    # -- diagnostics -------------------------------------------------------------------------

    def _gamma_text(self) -> str:
        gamma = self.settings.gamma
        if gamma is not None:
            return f"{gamma:.4f}"
        if self.loader is None or self.loader.predictor is None:
            return "auto"
        return f"{self.loader.predictor.config.default_gamma:.4f} (auto)"

    def publish_diagnostics(self) -> None:
        snapshot = self.stats.snapshot()  # always, so each message covers one period
        if self._diagnostics.get_subscription_count() == 0:
            return
        loader = self.loader
        model = (loader.path if loader is not None else Path(self.settings.model_path)).name
        if loader is not None and loader.predictor is not None:
            model += f" ({loader.predictor.config.arch})"
        execution = loader.execution if loader is not None else ("", "")
        status = status_of(snapshot, backend=loader.backend_name if loader else "none",
                           model=model, gamma=self._gamma_text(),
                           model_error=loader.error if loader else "",
                           stale_after_s=self.settings.stale_after_s,
                           execution=execution[0], execution_warning=execution[1],
                           lifecycle_state=self.lifecycle_state)
        name = self._node.get_fully_qualified_name()
        self._diagnostics.publish(to_diagnostic_array(
            self._node.get_clock().now().to_msg(), f"{NODE_NAME}: {name}", name, status))
