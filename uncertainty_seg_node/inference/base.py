"""The inference interface: camera image in, class ids + confidence + certain mask out.

Pre-processing (resize to the network size, normalisation) and post-processing (argmax,
confidence, resize back to the camera resolution, gamma threshold) belong here so the ROS node,
the replay evaluation and the benchmark never reimplement them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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
    """Implemented by every backend (torch, onnxruntime, openvino, tensorrt).

    What runs the model is told by fields, never guessed: the node and the bench read them as
    they are.
    """

    config: ModelConfig
    backend_name: str  # torch | torch-ensemble | torch-mcdropout | onnxruntime | openvino | ...
    selection: str  # which backend runs the model and why (`inference/resolve.py`, `fastest.py`)
    precision: str  # what runs: fp32, bf16, fp16 or int8
    precision_choice: str  # how the backend chose its precision ('' when it had no choice)
    execution_providers: list[str]  # what actually runs it (ONNX Runtime may drop CUDA)
    device_in_use: str  # where it actually runs: cpu, cuda:N, gpu
    threads: int | None  # CPU inference threads (None: the library's own choice)
    gate: dict[str, Any] | None  # the shipping gate's figures of a reduced precision
    has_logits: bool  # whether the model can return logits
    source: str  # the model file it runs, or an ensemble's checkpoints joined by commas

    @property
    def input_size(self) -> tuple[int, int]:
        """The network input (H, W)."""
        ...

    def run_network(self, batch: Any, *, with_logits: bool = False) -> Any:
        """uint8 (B, h, w, 3) RGB at the network size -> the network's outputs at that size."""
        ...

    def predict_batch(self, images: Sequence[np.ndarray], *, encoding: str = "rgb8",
                      gamma: float | None = None, with_logits: bool = False
                      ) -> list[Prediction]:
        """Several camera images (any sizes) in one network call."""
        ...

    def close(self) -> None:
        """Release backend resources (sessions, GPU memory)."""
        ...

    def predict(self, image: np.ndarray, *, encoding: str = "rgb8", gamma: float | None = None,
                with_logits: bool = False) -> Prediction:
        """`image` is uint8 in one of `image_codec.encodings.MODEL_ENCODINGS`.

        That is (H, W, 3) rgb8 or bgr8, (H, W, 4) rgba8 or bgra8, or (H, W) mono8; `encoding`
        says which.
        """
        ...
