"""Drive a managed node over its lifecycle services, as a lifecycle manager (Nav2's) does.

`LifecycleClient` adds ChangeState / GetState clients for `<node>/change_state` and
`<node>/get_state` to a node that another thread spins (a `GraphClient`'s).
"""

from __future__ import annotations

from typing import Any

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState

from uncertainty_seg_node.ros_drivers.harness import call_service

TRANSITIONS = {
    "configure": Transition.TRANSITION_CONFIGURE,
    "cleanup": Transition.TRANSITION_CLEANUP,
    "activate": Transition.TRANSITION_ACTIVATE,
    "deactivate": Transition.TRANSITION_DEACTIVATE,
    "unconfigured_shutdown": Transition.TRANSITION_UNCONFIGURED_SHUTDOWN,
    "inactive_shutdown": Transition.TRANSITION_INACTIVE_SHUTDOWN,
    "active_shutdown": Transition.TRANSITION_ACTIVE_SHUTDOWN,
}


class LifecycleClient:
    """`change(transition)` and `state()` of the managed node `node_name`."""

    def __init__(self, node: Any, node_name: str) -> None:
        self.node_name = node_name
        self._change: Any = node.create_client(ChangeState, f"{node_name}/change_state")
        self._get: Any = node.create_client(GetState, f"{node_name}/get_state")

    def wait_for_services(self, timeout: float = 30.0) -> bool:
        return bool(self._change.wait_for_service(timeout_sec=timeout)
                    and self._get.wait_for_service(timeout_sec=timeout))

    def state(self, timeout: float = 10.0) -> str:
        """The label of the current state (unconfigured, inactive, active, finalized)."""
        return str(call_service(self._get, GetState.Request(), timeout).current_state.label)

    def change(self, transition: str, timeout: float = 60.0) -> bool:
        """Trigger `transition` (a name of TRANSITIONS); True when it succeeded.

        The default timeout covers a configure that loads (or builds) the model.
        """
        request = ChangeState.Request()
        request.transition.id = TRANSITIONS[transition]
        return bool(call_service(self._change, request, timeout).success)
