"""ROS 2 bags (sqlite3 and MCAP) through rosbags: camera images, labels, strings. No rclpy."""

from uncertainty_seg_node.bags.bag_io import (
    STORAGES,
    BagImage,
    BagReadError,
    BagWriter,
    list_topics,
    read_arrays,
    read_images,
    read_mono,
    read_pairs,
    read_strings,
)
from uncertainty_seg_node.bags.topics import (
    ANOMALY_TOPIC,
    COMPRESSED_TOPIC,
    DOMAIN_TOPIC,
    FRAME_ID,
    IMAGE_TOPIC,
    LABEL_TOPIC,
)

__all__ = [
    "ANOMALY_TOPIC", "COMPRESSED_TOPIC", "DOMAIN_TOPIC", "FRAME_ID", "IMAGE_TOPIC", "LABEL_TOPIC",
    "STORAGES", "BagImage", "BagReadError", "BagWriter", "list_topics", "read_arrays",
    "read_images", "read_mono", "read_pairs", "read_strings",
]
