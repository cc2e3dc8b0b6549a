"""What the node reports on /diagnostics: counters and latency windows, summarised once a period.

`NodeStats` is fed from the image callback and the worker thread (hence the lock) and emptied
into a `StatsSnapshot` by the diagnostics timer; `status_of` turns a snapshot into the level,
message and key/values of one `diagnostic_msgs/DiagnosticStatus`. Pure Python apart from
`to_diagnostic_array`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray

OK, WARN, ERROR = 0, 1, 2  # diagnostic_msgs/DiagnosticStatus levels
_WINDOW = 1000  # latency samples kept between two snapshots (bounded memory at any rate)
_NOT_ACTIVE = {  # the managed node's messages while it publishes nothing
    "unconfigured": "unconfigured: no model loaded, publishing nothing (configure, activate)",
    "inactive": "inactive: model loaded, publishing nothing (activate to publish)",
    "finalized": "finalized: shut down, publishing nothing",
}


@dataclass
class StatsSnapshot:
    """Totals since start plus figures over the last period (rates, latencies)."""

    period_s: float
    received: int
    published: int
    dropped: int
    colored: int  # frames whose colour images were rendered (someone subscribed to them)
    rejected: dict[str, int]
    failed: dict[str, int]
    input_rate_hz: float
    output_rate_hz: float
    period_problems: int = 0  # frames rejected or failed during the last period
    latency_ms: list[float] = field(default_factory=list)  # receive -> publish, last period
    inference_ms: list[float] = field(default_factory=list)
    certain_fraction: float | None = None  # mean over the frames of the last period
    last_error: str = ""
    since_last_frame_s: float = 0.0  # since the last camera frame (since start before the first)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


class NodeStats:
    """Thread-safe counters; `snapshot()` reads the totals and restarts the period."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = time.monotonic
        self._received = self._published = self._dropped = self._colored = 0
        self._rejected: Counter[str] = Counter()
        self._failed: Counter[str] = Counter()
        self._period_start = self._last_frame = self._now()
        self._period_received = self._period_published = self._period_problems = 0
        self._latency: list[float] = []
        self._inference: list[float] = []
        self._certain: list[float] = []
        self._last_error = ""

    def received(self) -> None:
        with self._lock:
            self._last_frame = self._now()
            self._received += 1
            self._period_received += 1

    def dropped(self) -> None:
        with self._lock:
            self._dropped += 1

    def colored(self) -> None:
        with self._lock:
            self._colored += 1

    def rejected(self, reason: str, message: str = "") -> None:
        with self._lock:
            self._rejected[reason] += 1
            self._period_problems += 1
            self._last_error = message or reason

    def failed(self, reason: str, message: str = "") -> None:
        with self._lock:
            self._failed[reason] += 1
            self._period_problems += 1
            self._last_error = message or reason

    def published(self, latency_ms: float, inference_ms: float, certain_fraction: float) -> None:
        with self._lock:
            self._published += 1
            self._period_published += 1
            if len(self._latency) < _WINDOW:
                self._latency.append(latency_ms)
                self._inference.append(inference_ms)
                self._certain.append(certain_fraction)

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            now = self._now()
            period = max(now - self._period_start, 1e-9)
            snap = StatsSnapshot(
                period_s=period,
                received=self._received,
                published=self._published,
                dropped=self._dropped,
                colored=self._colored,
                rejected=dict(self._rejected),
                failed=dict(self._failed),
                input_rate_hz=self._period_received / period,
                output_rate_hz=self._period_published / period,
                period_problems=self._period_problems,
                latency_ms=self._latency,
                inference_ms=self._inference,
                certain_fraction=float(np.mean(self._certain)) if self._certain else None,
                last_error=self._last_error,
                since_last_frame_s=now - self._last_frame,
            )
            self._period_start = now
            self._period_received = self._period_published = self._period_problems = 0
            self._latency, self._inference, self._certain = [], [], []
        return snap


def _ms(values: list[float], reducer: str) -> str:
    if not values:
        return "n/a"
    return f"{float(np.median(values) if reducer == 'median' else np.max(values)):.2f}"


def status_of(
    snap: StatsSnapshot,
    *,
    backend: str,
    model: str,
    gamma: str,
    model_error: str = "",
    stale_after_s: float | None = None,
    execution: str = "",
    execution_warning: str = "",
    lifecycle_state: str = "",
) -> tuple[int, str, list[tuple[str, str]]]:
    """(level, message, [(key, value)]) of the node's DiagnosticStatus for one snapshot.

    ERROR while the model is unusable; WARN when no frame came for `stale_after_s`, when frames
    come but none goes out, when frames failed in the last period, or when the backend runs on
    another execution provider than the one asked for (`execution_warning`). The managed node
    gives its `lifecycle_state`: WARN whenever it is not active, because it publishes nothing.
    """
    values = [
        ("input_rate_hz", f"{snap.input_rate_hz:.2f}"),
        ("output_rate_hz", f"{snap.output_rate_hz:.2f}"),
        ("latency_median_ms", _ms(snap.latency_ms, "median")),
        ("latency_max_ms", _ms(snap.latency_ms, "max")),
        ("inference_median_ms", _ms(snap.inference_ms, "median")),
        ("inference_max_ms", _ms(snap.inference_ms, "max")),
        ("frames_received", str(snap.received)),
        ("frames_published", str(snap.published)),
        ("frames_dropped_busy", str(snap.dropped)),
        ("frames_colored", str(snap.colored)),
        ("frames_rejected", str(snap.rejected_total)),
        *[(f"frames_rejected_{reason}", str(n)) for reason, n in sorted(snap.rejected.items())],
        ("frames_failed", str(snap.failed_total)),
        *[(f"frames_failed_{reason}", str(n)) for reason, n in sorted(snap.failed.items())],
        ("certain_fraction",
         "n/a" if snap.certain_fraction is None else f"{snap.certain_fraction:.4f}"),
        ("gamma", gamma),
        ("backend", backend),
        ("execution_provider", execution or "n/a"),
        ("since_last_frame_s", f"{snap.since_last_frame_s:.2f}"),
        ("model", model),
        ("last_error", snap.last_error),
    ]
    if lifecycle_state:
        values.append(("lifecycle_state", lifecycle_state))
    if model_error:
        return ERROR, f"model not loaded: {model_error}", values
    if lifecycle_state and lifecycle_state != "active":
        return WARN, _NOT_ACTIVE.get(lifecycle_state, f"{lifecycle_state}: publishing nothing"), (
            values)
    if stale_after_s is not None and snap.since_last_frame_s > stale_after_s:
        return WARN, (f"stale input: no camera frame for {snap.since_last_frame_s:.1f} s "
                      f"(stale_after_s={stale_after_s:g})"), values
    if snap.input_rate_hz > 0 and snap.output_rate_hz == 0:
        return WARN, "receiving frames but publishing none", values
    if snap.period_problems:
        return WARN, (f"{snap.period_problems} bad frames in the last {snap.period_s:.1f} s "
                      f"(last: {snap.last_error})"), values
    if execution_warning:
        return WARN, execution_warning, values
    if snap.published == 0:
        return OK, "waiting for images", values
    return OK, "running", values


def to_diagnostic_array(
    stamp: Time, name: str, hardware_id: str, status: tuple[int, str, list[tuple[str, str]]]
) -> DiagnosticArray:
    """The /diagnostics message holding one status."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    level, message, values = status
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = [DiagnosticStatus(
        level=bytes([level]), name=name, message=message, hardware_id=hardware_id,
        values=[KeyValue(key=k, value=v) for k, v in values],
    )]
    return msg


def _canonical_device(device: str) -> str:
    return "cuda:0" if device == "cuda" else device


def execution_of(providers: list[str], device_in_use: str, requested: str) -> tuple[str, str]:
    """(what runs the model, a warning when it is not the requested device, else '').

    ONNX Runtime drops a CUDA provider that fails to start and runs on the CPU without raising;
    `providers` are the ones the session actually uses (`get_providers()`).
    """
    text = f"{', '.join(providers) or 'unknown'} on {device_in_use}"
    if _canonical_device(device_in_use) != _canonical_device(requested):
        return text, (f"model runs on {device_in_use}, not on the requested {requested} "
                      f"(execution providers: {', '.join(providers) or 'unknown'})")
    return text, ""
