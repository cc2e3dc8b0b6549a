"""The background writer stage: order, bounded queue, failures re-raised, drain on close."""

from __future__ import annotations

import threading

import pytest

from uncertainty_seg_node.replay.background_stage import BackgroundStage


def test_items_are_worked_in_order_on_another_thread() -> None:
    seen: list[int] = []
    threads: set[str] = set()

    def work(item: int) -> None:
        seen.append(item)
        threads.add(threading.current_thread().name)

    with BackgroundStage(work, depth=2) as stage:
        for i in range(50):
            stage.put(i)
    assert seen == list(range(50))
    assert threads == {"replay-writer"}


def test_queue_is_bounded() -> None:
    gate = threading.Event()
    stage = BackgroundStage(lambda item: gate.wait(), depth=2)
    stage.put(0)  # taken by the worker, which blocks on the gate
    stage.put(1)
    stage.put(2)
    assert stage._queue.full()
    gate.set()
    stage.close()


def test_worker_failure_reaches_the_caller_and_later_items_are_skipped() -> None:
    done: list[int] = []

    def work(item: int) -> None:
        if item == 3:
            raise ValueError("bad frame 3")
        done.append(item)

    stage = BackgroundStage(work, depth=1)
    with pytest.raises(ValueError, match="bad frame 3"):
        for i in range(100):
            stage.put(i)
        stage.close()
    stage.close()
    assert done == [0, 1, 2]


def test_exception_in_the_caller_still_drains_queued_items() -> None:
    done: list[int] = []
    with pytest.raises(RuntimeError, match="reader broke"):
        with BackgroundStage(done.append, depth=4) as stage:
            stage.put(1)
            stage.put(2)
            raise RuntimeError("reader broke")
    assert done == [1, 2]
