"""A small in-process memo with a time-to-live, for derived objects a replica reuses.

Unlike :mod:`finray.cache` (bytes, optionally shared through Redis), this keeps live Python
objects (a :class:`~finray.agent.state.Persona`, a query vector) in the process that computed
them: reusing them costs a dict lookup, and a stale entry is at most ``ttl_s`` old.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """A small thread-safe LRU with a time-to-live; ``observer(hit)`` sees every lookup."""

    def __init__(self, ttl_s: float, max_items: int = 4096, observer: Callable[[bool], None] | None = None) -> None:
        self._ttl = ttl_s
        self._max = max_items
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self.observer = observer

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        now = time.monotonic()
        with self._lock:
            got = self._items.get(key)
            if got is not None and now - got[0] < self._ttl:
                self._items.move_to_end(key)
                hit = True
                value = got[1]
            else:
                hit = False
        if self.observer is not None:
            self.observer(hit)
        if hit:
            return value
        value = load()
        with self._lock:
            self._items[key] = (now, value)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return value

    def invalidate(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def peek(self, key: K) -> V | None:
        """The fresh value for ``key`` or ``None`` (counted as a hit or a miss)."""
        now = time.monotonic()
        with self._lock:
            got = self._items.get(key)
            fresh = got is not None and now - got[0] < self._ttl
            if fresh:
                self._items.move_to_end(key)
        if self.observer is not None:
            self.observer(fresh)
        return got[1] if fresh and got is not None else None

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)
