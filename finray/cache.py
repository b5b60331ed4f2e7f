"""One small cache interface with two backends: in-process (default) and Redis (``REDIS_URL``).

What is cached is always *derived* data that can be recomputed (a RiskXpert answer for a given
question and model version), so the cache is allowed to forget, and it is never allowed to fail a
request:

* :class:`InProcessCache` — a bounded LRU with a per-entry TTL, local to one Serve replica. The
  embedded default: nothing to run, nothing to configure.
* :class:`RedisCache` — shared by every replica and surviving restarts. If Redis is down or slow,
  every operation degrades to a miss / no-op: the caller recomputes and the user is served
  uncached. The first failure is logged as a warning, later ones at most once a minute, and after
  a failure Redis is not asked again for a few seconds (so a dead Redis costs one connect timeout
  per few seconds, not one per request).

Keys are built by :func:`cache_key` from a namespace, the **model version** and the request's
normalized parts, hashed. Publishing a new model version therefore changes every key: old
answers are never served for the new model and simply expire by TTL.

Values are ``bytes`` (callers serialize, usually JSON), so both backends store exactly the same
thing and a test can swap one for the other.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from finray.config import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "finray"


def cache_key(namespace: str, version: str, parts: Any, prefix: str = KEY_PREFIX) -> str:
    """``<prefix>:<namespace>:<version>:<sha256 of the JSON of parts>`` — short, safe, versioned."""
    blob = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:40]
    return f"{prefix}:{namespace}:{version}:{digest}"


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    sets: int = 0
    errors: int = 0  # backend failures that were turned into misses / no-ops


class Cache(Protocol):
    """What callers use; both backends implement it and never raise on backend trouble."""

    name: str
    stats: CacheStats

    def get(self, key: str) -> bytes | None:
        """The stored value, or ``None`` (missing, expired, or the backend is unavailable)."""
        ...

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        """Store ``value`` for ``ttl_s`` seconds (the cache's default TTL when ``None``)."""
        ...

    def delete(self, key: str) -> None: ...


class InProcessCache:
    """A thread-safe LRU of at most ``max_entries`` values, each expiring after its TTL."""

    name = "in-process"

    def __init__(self, ttl_s: float = 3600.0, max_entries: int = 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0 or max_entries < 1:
            raise ValueError("ttl_s must be > 0 and max_entries ≥ 1")
        self.ttl_s = float(ttl_s)
        self.max_entries = int(max_entries)
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None or item[0] <= self._clock():
                if item is not None:
                    del self._data[key]
                self.stats.misses += 1
                return None
            self._data.move_to_end(key)
            self.stats.hits += 1
            return item[1]

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        expires = self._clock() + (self.ttl_s if ttl_s is None else float(ttl_s))
        with self._lock:
            self._data[key] = (expires, bytes(value))
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)
            self.stats.sets += 1

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def __len__(self) -> int:
        return len(self._data)


class RedisCache:
    """Redis behind the same interface; failures become misses/no-ops (see the module docstring)."""

    name = "redis"

    def __init__(self, url: str, ttl_s: float = 3600.0, *, timeout_s: float = 0.25,
                 retry_after_s: float = 5.0, log_every_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        import redis

        if ttl_s <= 0:
            raise ValueError("ttl_s must be > 0")
        self.ttl_s = float(ttl_s)
        self.url_shown = url.split("@")[-1]  # never log a password
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry_on_timeout=False,
        )
        self._retry_after_s = retry_after_s
        self._log_every_s = log_every_s
        self._clock = clock
        self._down_until = 0.0
        self._last_log = -float("inf")
        self._lock = threading.Lock()
        self.stats = CacheStats()

    # -- failure handling ----------------------------------------------------------------------
    def _available(self) -> bool:
        return self._clock() >= self._down_until

    def _failed(self, op: str, err: Exception) -> None:
        now = self._clock()
        with self._lock:
            self.stats.errors += 1
            self._down_until = now + self._retry_after_s
            should_log = now - self._last_log >= self._log_every_s
            if should_log:
                self._last_log = now
        if should_log:
            log.warning("redis cache at %s unavailable (%s: %s: %s); serving uncached for now",
                        self.url_shown, op, type(err).__name__, err)

    # -- interface -----------------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        import redis

        if not self._available():
            self.stats.misses += 1
            return None
        try:
            value = self._client.get(key)
        except (redis.RedisError, OSError) as err:
            self._failed("GET", err)
            self.stats.misses += 1
            return None
        if value is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return bytes(value)

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        import redis

        if not self._available():
            return
        ttl_ms = max(1, int(round(1000 * (self.ttl_s if ttl_s is None else float(ttl_s)))))
        try:
            self._client.set(key, value, px=ttl_ms)
            self.stats.sets += 1
        except (redis.RedisError, OSError) as err:
            self._failed("SET", err)

    def delete(self, key: str) -> None:
        import redis

        if not self._available():
            return
        try:
            self._client.delete(key)
        except (redis.RedisError, OSError) as err:
            self._failed("DEL", err)

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # noqa: BLE001 - closing a dead connection is not an error
            pass


def build_cache(settings: Settings) -> InProcessCache | RedisCache:
    """Redis when ``REDIS_URL`` is set, the in-process LRU otherwise; TTL from ``FINRAY_CACHE_TTL_S``."""
    if settings.redis_url:
        return RedisCache(settings.redis_url, ttl_s=settings.cache_ttl_s)
    return InProcessCache(ttl_s=settings.cache_ttl_s, max_entries=settings.cache_max_entries)


__all__ = ["Cache", "CacheStats", "InProcessCache", "RedisCache", "build_cache", "cache_key"]
