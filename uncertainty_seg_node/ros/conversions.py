"""numpy arrays -> sensor_msgs/Image messages (the way in is `image_codec`, which needs no ROS)."""

from __future__ import annotations

import array

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from uncertainty_seg_node.image_codec.raw import message_fields


def array_to_image(array_: np.ndarray, encoding: str, header: Header) -> Image:
    """An array -> `Image` carrying `header` (stamp and frame_id) unchanged, rows packed."""
    fields = message_fields(array_, encoding)
    data = fields.pop("data")
    msg = Image(**fields)
    msg.header = header
    payload = array.array("B")
    if data.size:
        payload.frombytes(data.data)  # one memcpy; array.array is what rclpy stores
    msg.data = payload
    return msg
