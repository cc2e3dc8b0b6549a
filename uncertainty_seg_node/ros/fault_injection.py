"""TEST ONLY: make the node raise arbitrary exceptions at chosen stages of chosen frames.

Enabled only when the environment variable `UNCERTAINTY_SEG_TEST_FAULTS=1` is set in the node's
process (the robustness test does so); otherwise `FaultInjector.from_env()` returns an injector
that never raises and `wrap` returns the predictor itself. A frame whose `header.frame_id` is
`fault:<stage>:<ExceptionName>` raises that builtin exception at that stage: `callback` (the
image callback), `conversion` (decoding in the worker), `backend` (inside `Predictor.predict`),
`publish` (building the main outputs) or `color` (the colour images). `fault:<stage>:sleep=S`
holds the frame S seconds there instead (a slow inference, for the lifecycle tests).
"""

from __future__ import annotations

import builtins
import os
import threading
import time
from typing import Any

import numpy as np

from uncertainty_seg_node.inference.base import Prediction, Predictor

ENV = "UNCERTAINTY_SEG_TEST_FAULTS"
STAGES = ("callback", "conversion", "backend", "publish", "color")


class FaultInjector:
    """Raises the exception a frame's frame_id names, at the stage it names (when enabled)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._current = threading.local()  # frame_id of the frame the worker is on

    @classmethod
    def from_env(cls) -> FaultInjector:
        return cls(os.environ.get(ENV, "") == "1")

    def enter(self, frame_id: str) -> None:
        """The worker starts on a frame (lets the wrapped backend know which)."""
        self._current.frame_id = frame_id

    def check(self, stage: str, frame_id: str | None = None) -> None:
        """Raise if enabled and the frame (default: the current one) asks for it here."""
        if not self.enabled:
            return
        frame_id = frame_id if frame_id is not None else getattr(self._current, "frame_id", "")
        parts = frame_id.split(":")
        if len(parts) == 3 and parts[0] == "fault" and parts[1] == stage:
            if parts[2].startswith("sleep="):
                time.sleep(float(parts[2][len("sleep="):]))
                return
            kind = getattr(builtins, parts[2], None)
            if not (isinstance(kind, type) and issubclass(kind, Exception)):
                kind = RuntimeError
            raise kind(f"injected {parts[2]} at {stage} (test only)")

    def wrap(self, predictor: Predictor) -> Predictor:
        """The predictor, or (enabled) a proxy that raises at stage `backend`."""
        return _FaultyPredictor(predictor, self) if self.enabled else predictor


class _FaultyPredictor:
    """A Predictor that raises inside `predict` for frames asking for a backend fault."""

    def __init__(self, inner: Predictor, faults: FaultInjector) -> None:
        self._inner, self._faults = inner, faults
        self.config = inner.config
        self.backend_name = inner.backend_name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def predict(self, image: np.ndarray, *, encoding: str = "rgb8", gamma: float | None = None,
                with_logits: bool = False) -> Prediction:
        self._faults.check("backend")
        return self._inner.predict(image, encoding=encoding, gamma=gamma,
                                   with_logits=with_logits)
