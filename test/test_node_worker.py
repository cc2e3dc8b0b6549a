"""The one-slot queue and its worker thread, and the diagnostics aggregation (no ROS graph)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from uncertainty_seg_node.ros.diagnostics import (
    ERROR,
    OK,
    WARN,
    NodeStats,
    execution_of,
    status_of,
)
from uncertainty_seg_node.ros.worker import LatestSlot, Worker


def test_slot_keeps_only_the_newest() -> None:
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True  # 1 was never taken: dropped
    assert slot.put(3) is True
    assert slot.take(0.1) == 3
    assert slot.take(0.01) is None  # empty: times out


def test_slot_close_wakes_a_waiting_taker() -> None:
    slot: LatestSlot[int] = LatestSlot()
    got: list[int | None] = []
    taker = threading.Thread(target=lambda: got.append(slot.take(30.0)))
    taker.start()
    slot.close()
    taker.join(5.0)
    assert not taker.is_alive() and got == [None]
    slot.put(5)
    assert slot.take(0.01) is None


def test_worker_bounds_the_backlog_and_survives_errors() -> None:
    """A busy handler sees only the newest item; a raising one does not stop the loop."""
    slot: LatestSlot[int] = LatestSlot()
    busy, release, done = threading.Event(), threading.Event(), threading.Event()
    handled: list[int] = []
    errors: list[str] = []

    def handle(item: int) -> None:
        if item == 0:
            busy.set()
            release.wait(10.0)  # hold the worker while the producer floods the slot
        if item == 1:
            raise RuntimeError("bad frame")
        handled.append(item)
        if item == 99:
            done.set()

    worker: Worker[int] = Worker(slot, handle, lambda exc: errors.append(str(exc)))
    worker.start()
    slot.put(0)
    assert busy.wait(10.0)
    dropped = sum(slot.put(i) for i in range(2, 50))
    release.set()
    assert _wait_until(lambda: len(handled) == 2)  # 0, then only the newest: 49
    slot.put(1)
    assert _wait_until(lambda: bool(errors))
    slot.put(99)
    assert done.wait(10.0)
    assert worker.stop(5.0)
    assert dropped == 47  # every frame offered while busy but the last was replaced
    assert handled == [0, 49, 99] and errors == ["bad frame"]


def _wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def test_worker_calls_idle_when_nothing_arrives() -> None:
    slot: LatestSlot[int] = LatestSlot()
    idled = threading.Event()
    worker: Worker[int] = Worker(slot, lambda _: None, lambda _: None, idle=idled.set,
                                 idle_period=0.01)
    worker.start()
    assert idled.wait(5.0)
    assert worker.stop(5.0)


def test_stats_snapshot_totals_rates_and_window() -> None:
    stats = NodeStats()
    for _ in range(10):
        stats.received()
    stats.dropped()
    stats.colored()
    stats.rejected("encoding", "unsupported encoding '32FC1'")
    stats.rejected("encoding")
    stats.rejected("step")
    for latency in (10.0, 20.0, 40.0):
        stats.published(latency, latency / 2, 0.5)
    first = stats.snapshot()
    assert (first.received, first.published, first.dropped, first.colored) == (10, 3, 1, 1)
    assert first.rejected == {"encoding": 2, "step": 1} and first.rejected_total == 3
    assert first.latency_ms == [10.0, 20.0, 40.0] and first.certain_fraction == 0.5
    assert first.input_rate_hz > first.output_rate_hz > 0
    level, message, values = status_of(first, backend="onnxruntime", model="m.onnx",
                                       gamma="0.5000")
    table = dict(values)
    assert level == WARN and "3 bad frames" in message
    assert table["latency_median_ms"] == "20.00" and table["latency_max_ms"] == "40.00"
    assert table["frames_rejected_encoding"] == "2" and table["frames_dropped_busy"] == "1"
    assert table["backend"] == "onnxruntime" and table["certain_fraction"] == "0.5000"

    second = stats.snapshot()  # a new period: totals kept, window and rates restarted
    assert second.received == 10 and second.latency_ms == [] and second.input_rate_hz == 0
    level, message, values = status_of(second, backend="onnxruntime", model="m", gamma="auto")
    assert level == OK and dict(values)["latency_median_ms"] == "n/a"


def test_status_levels() -> None:
    stats = NodeStats()
    stats.received()
    snap = stats.snapshot()
    assert status_of(snap, backend="x", model="m", gamma="auto")[0] == WARN  # in but no out
    level, message, _ = status_of(stats.snapshot(), backend="none", model="m", gamma="auto",
                                  model_error="model m.onnx does not exist")
    assert level == ERROR and "does not exist" in message


def test_managed_node_is_never_ok_unless_active() -> None:
    stats = NodeStats()
    stats.received()
    stats.published(1.0, 1.0, 0.5)
    snap = stats.snapshot()
    for state, words in (("unconfigured", "no model loaded"), ("inactive", "publishing nothing"),
                         ("finalized", "shut down")):
        level, message, values = status_of(snap, backend="x", model="m", gamma="auto",
                                           lifecycle_state=state)
        assert level == WARN and message.startswith(state) and words in message
        assert dict(values)["lifecycle_state"] == state
    assert status_of(snap, backend="x", model="m", gamma="auto",
                     lifecycle_state="active")[0] == OK
    level, message, _ = status_of(snap, backend="none", model="m", gamma="auto",
                                  model_error="bad.onnx is corrupt",
                                  lifecycle_state="unconfigured")
    assert level == ERROR and "bad.onnx" in message  # a failed configure outranks the state
    assert "lifecycle_state" not in dict(status_of(snap, backend="x", model="m", gamma="auto")[2])


@pytest.mark.parametrize("threads", [4])
def test_stats_are_thread_safe(threads: int) -> None:
    stats = NodeStats()

    def feed() -> None:
        for _ in range(2000):
            stats.received()
            stats.published(1.0, 1.0, 1.0)

    pool = [threading.Thread(target=feed) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    snap = stats.snapshot()
    assert snap.received == snap.published == threads * 2000
    assert len(snap.latency_ms) <= 1000  # bounded window


def test_stale_input_is_a_warning_and_a_missing_model_an_error() -> None:
    stats = NodeStats()
    clock = [100.0]
    stats._now = lambda: clock[0]  # a controlled clock: the rule, not the wall time, is tested
    stats._period_start = stats._last_frame = 100.0
    stats.received()
    stats.published(1.0, 1.0, 0.5)
    clock[0] = 101.0
    assert status_of(stats.snapshot(), backend="x", model="m", gamma="auto",
                     stale_after_s=2.0)[0] == OK
    clock[0] = 102.5  # 2.5 s after the last frame
    level, message, values = status_of(stats.snapshot(), backend="x", model="m", gamma="auto",
                                       stale_after_s=2.0)
    assert level == WARN and "stale input" in message and "2.5 s" in message
    assert dict(values)["since_last_frame_s"] == "2.50"
    level, _, _ = status_of(stats.snapshot(), backend="x", model="m", gamma="auto",
                            stale_after_s=2.0, model_error="gone")
    assert level == ERROR  # an unusable model outranks stale input


@pytest.mark.parametrize("providers, in_use, requested, warns", [
    (["CPUExecutionProvider"], "cpu", "cpu", False),
    (["CUDAExecutionProvider", "CPUExecutionProvider"], "cuda:0", "cuda", False),
    (["CPUExecutionProvider"], "cpu", "cuda:1", True),  # ORT's silent fallback
    (["CUDAExecutionProvider", "CPUExecutionProvider"], "cuda:0", "cuda:1", True),
])
def test_execution_provider_differing_from_the_request_warns(
        providers: list[str], in_use: str, requested: str, warns: bool) -> None:
    text, warning = execution_of(providers, in_use, requested)
    assert text == f"{', '.join(providers)} on {in_use}"
    assert bool(warning) == warns
    stats = NodeStats()
    stats.received()
    stats.published(1.0, 1.0, 0.5)
    level, message, values = status_of(stats.snapshot(), backend="onnxruntime", model="m",
                                       gamma="auto", execution=text, execution_warning=warning)
    assert level == (WARN if warns else OK) and dict(values)["execution_provider"] == text
    if warns:
        assert requested in message and in_use in message
