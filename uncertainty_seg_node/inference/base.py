"""The inference interface: camera image in, class ids + confidence + certain mask out.

Pre-processing (resize to the network size, normalisation) and post-processing (argmax,
confidence, resize back to the camera resolution, gamma threshold) belong here so the ROS node,
the replay evaluation and the benchmark never reimplement them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from uncertainty_seg_node.config import ModelConfig


@dataclass
class Prediction:
    """Outputs at the input image's resolution."""

    class_ids: np.ndarray  # uint8 (H, W)
    confidence: np.ndarray  # float32 (H, W) in [0, 1], higher = more certain
    certain: np.ndarray  # bool (H, W): confidence > gamma
    gamma: float
    logits: np.ndarray | None = None  # float32 (K, h, w) at network resolution, when asked for
    timings_ms: dict[str, float] = field(default_factory=dict)  # preprocess/inference/postprocess


class Predictor(Protocol):
    """Implemented by every backend (torch, onnxruntime, tensorrt)."""

    config: ModelConfig
    backend_name: str

    def predict(self, image: np.ndarray, *, encoding: str = "rgb8", gamma: float | None = None,
                with_logits: bool = False) -> Prediction:
        """`image` is uint8 in one of `image_codec.encodings.MODEL_ENCODINGS`.

        That is (H, W, 3) rgb8 or bgr8, (H, W, 4) rgba8 or bgra8, or (H, W) mono8; `encoding`
        says which.
        """
        ...
