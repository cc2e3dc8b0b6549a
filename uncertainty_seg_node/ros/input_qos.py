"""The QoS of the camera subscription: parameters, rclpy's QoS overrides and `auto` reliability.

The input subscription honours rclpy's standard read-only override parameters
`qos_overrides.<input topic>.subscription.{history,depth,reliability,durability}` (set in a
params file or with `-p`). A reliability override there is an explicit choice: `auto` then no
longer follows the publishers. Overrides of any other entity are refused at start, so a key that
would do nothing never passes silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rclpy.qos import (
    HistoryPolicy,
    QoSPolicyKind,
    QoSProfile,
    ReliabilityPolicy,
)
from rclpy.qos_overriding_options import QoSOverridingOptions

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.ros.params import NodeSettings, input_reliability, override_names

if TYPE_CHECKING:
    from rclpy.node import Node

_POLICIES = ("history", "depth", "reliability", "durability")


class InputQos:
    """The input subscription's QoS and whether it still follows the publishers (auto)."""

    def __init__(self, node: Node, settings: NodeSettings) -> None:
        self._settings = settings
        topic = node.resolve_topic_name(settings.input_topic)
        prefix = f"qos_overrides.{topic}.subscription."
        given = [name for name in override_names(node) if name.startswith("qos_overrides.")]
        refused = [n for n in given
                   if not n.startswith(prefix) or n[len(prefix):] not in _POLICIES]
        if refused:
            raise UserError(
                f"QoS override(s) {sorted(refused)} would have no effect; the node honours only "
                f"{prefix}{{{','.join(_POLICIES)}}}")
        overridden = {n[len(prefix):] for n in given}
        self._reliability_overridden = "reliability" in overridden
        self.follows_publishers = (settings.qos_reliability == "auto"
                                   and not self._reliability_overridden)
        self.reliability = input_reliability(settings.qos_reliability, [])

    def profile(self) -> QoSProfile:
        """The profile before overrides (rclpy applies those in create_subscription)."""
        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=self._settings.qos_depth,
            reliability=ReliabilityPolicy.RELIABLE if self.reliability == "reliable"
            else ReliabilityPolicy.BEST_EFFORT,
        )

    def overriding_options(self) -> QoSOverridingOptions:
        """Which policies the override parameters may set (all but reliability under auto)."""
        kinds = [QoSPolicyKind.HISTORY, QoSPolicyKind.DEPTH, QoSPolicyKind.DURABILITY]
        if not self.follows_publishers:
            kinds.append(QoSPolicyKind.RELIABILITY)
        return QoSOverridingOptions(kinds)

    def follow(self, publishers: list[str]) -> bool:
        """auto: adopt what every publisher allows; True when the subscription must be remade."""
        wanted = input_reliability("auto", publishers)
        if not self.follows_publishers or not publishers or wanted == self.reliability:
            return False
        self.reliability = wanted
        return True

    def describe(self, actual: QoSProfile) -> str:
        """Effective reliability and depth of `actual`, and where the reliability came from."""
        source = "qos_overrides" if self._reliability_overridden else (
            f"qos_reliability={self._settings.qos_reliability}")
        return (f"{actual.reliability.name.lower()} ({source}), {actual.history.name.lower()} "
                f"depth {actual.depth}")
