"""The part every backend shares: validate, resize, run the network, resize back, threshold.

A backend only implements `run_network(batch)`: uint8 (B, h, w, 3) RGB at the network size ->
`NetworkOutputs` at the network size. Everything else, and the timings, live here once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.gamma import resolve_gamma
from uncertainty_seg_node.inference.base import Prediction
from uncertainty_seg_node.inference.preprocess import postprocess, preprocess
from uncertainty_seg_node.model.artifact import output_names


def check_fixed_score(path: object, fixed: str, wanted: str | None) -> None:
    """An exported model computes its confidence as fixed at export: refuse another `--score`."""
    if wanted is not None and wanted != fixed:
        raise UserError(
            f"{path} computes confidence with {fixed!r}, fixed at export; re-export with "
            f"`--score {wanted}` or run the checkpoint with the torch backend"
        )


@dataclass
class NetworkOutputs:
    """Raw outputs for a batch at network resolution."""

    class_ids: np.ndarray  # uint8 or int32 (B, h, w)
    confidence: np.ndarray  # float32 or float16 (B, h, w)
    logits: np.ndarray | None = None  # float32 (B, K, h, w)

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray]) -> NetworkOutputs:
        """The graph's outputs in `output_names` order: ids, confidence[, logits]."""
        logits = arrays[2].astype(np.float32, copy=False) if len(arrays) > 2 else None
        return cls(arrays[0], arrays[1].astype(np.float32, copy=False), logits)


def wanted_outputs(path: object, has_logits: bool, with_logits: bool) -> list[str]:
    """The graph outputs to fetch; refuses logits from a model exported without them."""
    if with_logits and not has_logits:
        raise UserError(f"{path} has no logits output; re-export with `--with-logits`")
    return output_names(with_logits)


class PipelinePredictor:
    """Base of the backends; implements the `Predictor` protocol of `inference.base`."""

    config: ModelConfig
    backend_name: str = "base"
    selection: str = ""  # which backend runs the model and why (`inference/resolve.py`)
    precision: str = "fp32"
    precision_choice: str = ""
    execution_providers: list[str]
    device_in_use: str = "cpu"
    threads: int | None = None
    gate: dict[str, Any] | None = None
    has_logits: bool = True
    source: str = ""

    @property
    def input_size(self) -> tuple[int, int]:
        """The network input (H, W)."""
        return tuple(self.config.input_size)  # type: ignore[return-value]

    @property
    def score_method(self) -> str:
        return self.config.score_method

    def run_network(self, batch: np.ndarray, *, with_logits: bool = False) -> NetworkOutputs:
        """uint8 (B, h, w, 3) RGB at the network size -> outputs at the network size."""
        raise NotImplementedError

    def predict(
        self,
        image: np.ndarray,
        *,
        encoding: str = "rgb8",
        gamma: float | None = None,
        with_logits: bool = False,
    ) -> Prediction:
        """Camera image -> Prediction at the image's resolution (see `inference.base`)."""
        return self.predict_batch([image], encoding=encoding, gamma=gamma,
                                  with_logits=with_logits)[0]

    def predict_batch(
        self,
        images: Sequence[np.ndarray],
        *,
        encoding: str = "rgb8",
        gamma: float | None = None,
        with_logits: bool = False,
    ) -> list[Prediction]:
        """Several camera images (any sizes) in one network call; timings are per batch."""
        if len(images) == 0:
            raise UserError("predict_batch needs at least one image")
        gamma_value = resolve_gamma(gamma, self.config.default_gamma)
        start = time.perf_counter()
        prepared = [
            preprocess(image, encoding, self.input_size, self.config.resize_policy,
                       self.config.mean)
            for image in images
        ]
        batch = np.stack([rgb for rgb, _ in prepared])
        t_pre = time.perf_counter()
        outputs = self.run_network(batch, with_logits=with_logits)
        t_net = time.perf_counter()
        predictions = []
        for index, (_, plan) in enumerate(prepared):
            ids, conf, certain = postprocess(
                outputs.class_ids[index], outputs.confidence[index], plan, gamma_value
            )
            logits = None
            if with_logits and outputs.logits is not None:
                logits = np.asarray(outputs.logits[index], dtype=np.float32)
            predictions.append(Prediction(ids, conf, certain, gamma_value, logits))
        t_post = time.perf_counter()
        timings = {
            "preprocess": 1e3 * (t_pre - start),
            "inference": 1e3 * (t_net - t_pre),
            "postprocess": 1e3 * (t_post - t_net),
        }
        for prediction in predictions:
            prediction.timings_ms = dict(timings)
        return predictions

    def close(self) -> None:
        """Release backend resources (sessions, GPU memory)."""

    def __repr__(self) -> str:
        h, w = self.input_size
        return (f"{type(self).__name__}(backend={self.backend_name}, arch={self.config.arch}, "
                f"input={h}x{w}, score={self.score_method})")
