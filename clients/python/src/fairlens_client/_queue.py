"""A queue bounded by rows, not items, that never blocks the caller: a put that would overflow is refused."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


class RowQueue:
    def __init__(self, capacity_rows: int) -> None:
        self.capacity_rows = capacity_rows
        self._items: deque[tuple[Any, int]] = deque()
        self._rows = 0
        self._ready = threading.Condition()

    @property
    def rows(self) -> int:
        return self._rows

    def offer(self, item: Any, rows: int) -> bool:
        """Queue ``item`` unless its ``rows`` would take the queue past its capacity; never waits."""
        with self._ready:
            if self._rows + rows > self.capacity_rows:
                return False
            self._items.append((item, rows))
            self._rows += rows
            self._ready.notify()
            return True

    def put_control(self, item: Any) -> None:
        """A flush or close request: it takes no room, so it is queued however full the queue is."""
        with self._ready:
            self._items.append((item, 0))
            self._ready.notify()

    def take(self, timeout: float | None) -> Any | None:
        """The oldest item, or None once ``timeout`` seconds pass with nothing queued."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while not self._items:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._ready.wait(remaining)
            item, rows = self._items.popleft()
            self._rows -= rows
            return item
