"""A one-worker background stage: the replay predicts frame i+1 while frame i is written.

Writing the output bag and updating the metrics run in one worker thread fed by a small
bounded queue, so frames stay in order, memory stays bounded (at most `depth` frames wait) and
the network (which releases the GIL) is not held up by bag serialisation or histograms. An
exception in the worker stops the stage and is re-raised in the caller's thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

_DONE = object()


class BackgroundStage:
    """Run `work(item)` for each `put(item)`, in order, on one worker thread."""

    def __init__(self, work: Callable[[Any], None], *, depth: int = 2,
                 name: str = "replay-writer") -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._work = work
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._failed = threading.Event()  # stays set: the worker skips everything after it
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._failed.is_set():
                continue  # drain without working after a failure
            try:
                self._work(item)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self._error = exc
                self._failed.set()

    def put(self, item: Any) -> None:
        """Queue one item (blocks while `depth` items wait); re-raises a worker failure."""
        self._raise_if_failed()
        if self._failed.is_set():
            raise RuntimeError("the background stage failed earlier; no more items accepted")
        self._queue.put(item)

    def close(self) -> None:
        """Finish every queued item, stop the worker, re-raise its failure if any."""
        if not self._closed:
            self._closed = True
            self._queue.put(_DONE)
            self._thread.join()
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        """Raise the worker's exception once (later calls return quietly)."""
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __enter__(self) -> BackgroundStage:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
            return
        # Already failing: still finish the queued frames (they are good), but do not mask
        # the original exception with a worker failure.
        try:
            self.close()
        except BaseException:  # noqa: BLE001, S110
            pass


class InlineStage:
    """`BackgroundStage`'s interface, working in the caller's thread (`--no-background`)."""

    def __init__(self, work: Callable[[Any], None]) -> None:
        self._work = work

    def put(self, item: Any) -> None:
        """Work the item now."""
        self._work(item)

    def close(self) -> None:
        """Nothing queued, nothing to do."""

    def __enter__(self) -> InlineStage:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None
