"""A one-slot queue and the single worker thread that drains it (image_pipeline's pattern).

The image callback `put`s the newest frame; if the worker has not taken the previous one yet it
is replaced (and the caller counts it as dropped), so latency stays bounded when the camera is
faster than the model and nothing ever piles up.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Holds at most one item: `put` replaces, `take` waits for one (or for `close`)."""

    def __init__(self) -> None:
        self._items: deque[T] = deque(maxlen=1)
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: T) -> bool:
        """Store `item`; True when it replaced an item nobody had taken (a dropped frame)."""
        with self._cond:
            dropped = len(self._items) == 1
            self._items.append(item)
            self._cond.notify()
        return dropped

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item, waiting up to `timeout` s; None on timeout or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._items or self._closed, timeout)
            if self._closed or not self._items:
                return None
            return self._items.popleft()

    def close(self) -> None:
        """Wake every waiter; later `take`s return None."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class Worker(Generic[T]):
    """One daemon thread calling `handle(item)` for each item taken from `slot`.

    An exception from `handle` goes to `on_error` and the loop goes on: one bad frame must not
    stop the node. `idle` (if given) runs when no item arrived within `idle_period` s.
    """

    def __init__(
        self,
        slot: LatestSlot[T],
        handle: Callable[[T], None],
        on_error: Callable[[BaseException], None],
        *,
        idle: Callable[[], None] | None = None,
        idle_period: float = 0.5,
        name: str = "inference",
    ) -> None:
        self._slot = slot
        self._handle = handle
        self._on_error = on_error
        self._idle = idle
        self._idle_period = idle_period
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Close the slot and wait for the thread; True when it ended within `timeout`."""
        self._slot.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._slot.closed:
            item = self._slot.take(self._idle_period)
            try:
                if item is not None:
                    self._handle(item)
                elif self._idle is not None and not self._slot.closed:
                    self._idle()
            except Exception as exc:  # noqa: BLE001 - reported, and the next frame still runs
                self._on_error(exc)
