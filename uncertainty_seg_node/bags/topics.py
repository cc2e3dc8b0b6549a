"""Topic names of the camera bags this package writes (`synth --bag`, `make-bag`) and replays."""

from __future__ import annotations

IMAGE_TOPIC = "/camera/image_raw"  # sensor_msgs/msg/Image, rgb8
COMPRESSED_TOPIC = "/camera/image_raw/compressed"  # sensor_msgs/msg/CompressedImage, jpeg
LABEL_TOPIC = "/camera/labels"  # sensor_msgs/msg/Image, mono8 Cityscapes train ids, 255 ignore
ANOMALY_TOPIC = "/camera/anomaly"  # sensor_msgs/msg/Image, mono8 0 / 255 (unknown objects)
DOMAIN_TOPIC = "/camera/domain"  # std_msgs/msg/String, the synthetic domain of each frame
FRAME_ID = "camera"
DEFAULT_START_NS = 1_700_000_000 * 10**9  # a fixed start time keeps written bags reproducible

# All of them, for documentation and for `replay` defaults.
CAMERA_TOPICS: dict[str, str] = {
    IMAGE_TOPIC: "sensor_msgs/msg/Image",
    COMPRESSED_TOPIC: "sensor_msgs/msg/CompressedImage",
    LABEL_TOPIC: "sensor_msgs/msg/Image",
    ANOMALY_TOPIC: "sensor_msgs/msg/Image",
    DOMAIN_TOPIC: "std_msgs/msg/String",
}
