"""The node's model: loaded at start, then again every retry period while it cannot be.

No rclpy here: the node hands in its logger. `execution` says what actually runs the model
(ONNX Runtime may fall back from CUDA to the CPU without raising), with a warning when that is
not the device asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.inference.base import Predictor
from uncertainty_seg_node.model.description import describe_model
from uncertainty_seg_node.ros.diagnostics import execution_of
from uncertainty_seg_node.ros.params import NodeSettings

_LOG_EVERY_S = 5.0


def _predictor_for(path: Path, backend: str, device: str, score_method: str,
                   precision: str = "auto") -> Predictor:
    """The predictor for `path`; any failure becomes a one-line UserError naming the file."""
    from uncertainty_seg_node.inference.factory import load_predictor

    try:
        return load_predictor(
            path, backend=backend, device=device,
            score_method=None if score_method == "auto" else score_method, precision=precision,
        )
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - any backend error is a reason to refuse the model
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise UserError(
            f"model {path} could not be loaded with backend {backend!r} on {device!r} "
            f"({type(exc).__name__}: {first_line})"
        ) from None


class ModelLoader:
    """Holds the predictor (None while unusable), its load error and what runs it."""

    def __init__(self, path: Path, settings: NodeSettings, logger: Any,
                 wrap: Callable[[Predictor], Predictor] = lambda p: p) -> None:
        self.path = path
        self._settings = settings
        self._logger = logger
        self._wrap = wrap
        self.predictor: Predictor | None = None
        self.error = ""
        self.execution = ("", "")  # (what runs the model, warning or '')
        self._next_load = 0.0

    def load(self) -> None:
        """One attempt; on failure `error` says why and the next attempt waits a period."""
        settings = self._settings
        try:
            predictor = self._wrap(_predictor_for(
                self.path, settings.backend, settings.device, settings.score_method,
                settings.precision))
            if settings.warmup:
                h, w = predictor.config.input_size
                predictor.predict(np.zeros((h, w, 3), dtype=np.uint8))
        except UserError as exc:
            self.error = str(exc)
            self._next_load = time.monotonic() + settings.model_retry_period
            if settings.on_model_error == "wait":
                self._logger.error(
                    f"{exc}; retrying every {settings.model_retry_period} s",
                    throttle_duration_sec=max(_LOG_EVERY_S, settings.model_retry_period),
                )
            return
        self.execution = execution_of(list(predictor.execution_providers),
                                      predictor.device_in_use, settings.device)
        if self.execution[1]:
            self._logger.warning(self.execution[1])
        self.predictor, self.error = predictor, ""
        self.describe()

    def describe(self) -> None:
        """Log what the loaded model is (classes, input size, training data)."""
        if self.predictor is None:
            return
        selection = self.predictor.selection
        if selection:
            self._logger.info(f"{selection}; runs on {self.execution[0]}")
        description = describe_model(self.predictor.config)
        for line in description.info:
            self._logger.info(line)
        if description.warning:
            self._logger.warning(description.warning)

    def retry(self) -> None:
        """Load again if unusable and the retry period has passed.

        The worker thread calls it both when idle and for each frame, so a live camera does not
        hold the reload back.
        """
        if self.predictor is None and time.monotonic() >= self._next_load:
            self.load()
            if self.predictor is not None:
                self._logger.info(f"model {self.path} loaded")

    @property
    def backend_name(self) -> str:
        return self.predictor.backend_name if self.predictor is not None else "none"
