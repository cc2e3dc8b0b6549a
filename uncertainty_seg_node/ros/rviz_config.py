"""The RViz layout, rewritten for the node's namespace and camera topic (used by the launch file).

The shipped config/uncertainty_seg.rviz names the topics of a node without a namespace on the
default camera; `rviz_config_for` moves every `/uncertainty_seg_node/...` topic under
`namespace` and points the camera panel at `image_topic`, resolved as the node resolves it.
"""

from __future__ import annotations

from typing import Any

import yaml

from uncertainty_seg_node.ros.params import NODE_NAME

DEFAULT_CAMERA = "/camera/image_raw"


def _namespace(namespace: str) -> str:
    """'' or '/a/b' (how rcl joins a namespace to a name)."""
    stripped = namespace.strip().strip("/")
    return f"/{stripped}" if stripped else ""


def resolve_topic(topic: str, namespace: str) -> str:
    """A topic as a node in `namespace` resolves it (relative names go under the namespace)."""
    return topic if topic.startswith("/") else f"{_namespace(namespace)}/{topic}"


def rviz_config_for(text: str, namespace: str = "", image_topic: str = "") -> str:
    """The RViz YAML `text` with the node's topics under `namespace` and the camera topic set."""
    data: dict[str, Any] = yaml.safe_load(text)
    node_prefix = f"/{NODE_NAME}/"
    camera = resolve_topic(image_topic, namespace) if image_topic else DEFAULT_CAMERA
    for display in data["Visualization Manager"]["Displays"]:
        topic = display.get("Topic", {})
        value = str(topic.get("Value", ""))
        if value.startswith(node_prefix):
            topic["Value"] = f"{_namespace(namespace)}{value}"
        elif value == DEFAULT_CAMERA:
            topic["Value"] = camera
    return yaml.safe_dump(data, sort_keys=False)
