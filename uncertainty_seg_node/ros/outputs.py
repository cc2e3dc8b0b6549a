"""The node's output publishers: the planner's images, the colour images and ~/camera_info.

Made with the node's `create_publisher` (plain node) or `create_lifecycle_publisher` (managed
node, whose publishers send only while the node is active). Reliable and volatile: a subscriber
that joins later never receives an old frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from uncertainty_seg_node.ros.conversions import array_to_image

# The planner's topic goes out first; colour images only while someone subscribes to them.
PLANNER_OUTPUTS = ("certain_mask", "segmentation", "confidence")
COLOR_OUTPUTS = ("segmentation_color", "confidence_color")

PublisherFactory = Callable[..., Any]  # (msg_type, topic, qos) -> publisher


class Outputs:
    """One publisher per output image, and ~/camera_info when a camera_info_topic is set."""

    def __init__(self, create: PublisherFactory, camera_info: bool) -> None:
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.images: dict[str, Any] = {
            name: create(Image, f"~/{name}", qos) for name in (*PLANNER_OUTPUTS, *COLOR_OUTPUTS)}
        self.camera_info: Any = create(CameraInfo, "~/camera_info", qos) if camera_info else None

    def watched(self, names: tuple[str, ...]) -> list[str]:
        """Those of `names` that something subscribes to."""
        return [n for n in names if self.images[n].get_subscription_count() > 0]

    @staticmethod
    def messages(header: Header, arrays: dict[str, tuple[np.ndarray, str]]
                 ) -> list[tuple[str, Image]]:
        return [(name, array_to_image(array, encoding, header))
                for name, (array, encoding) in arrays.items()]

    def publish(self, messages: list[tuple[str, Image]]) -> None:
        for name, msg in messages:
            self.images[name].publish(msg)

    def destroy(self, destroy: Callable[[Any], Any]) -> None:
        """Destroy every publisher with the node's matching destroy method."""
        for publisher in [*self.images.values(), self.camera_info]:
            if publisher is not None:
                destroy(publisher)
        self.images, self.camera_info = {}, None
