"""Polite HTTP GET for public OpenAPIs: timeouts, retries with backoff, a per-host cap.

The Korean public APIs (finlife, ECOS) are slow at times and rate-limited per key, so every
collector goes through :func:`get_json`: network errors and 5xx are retried with exponential
backoff and jitter; 4xx are not (they will not get better). The per-host semaphore caps
concurrency inside one process; Ray Data's ``TaskPoolStrategy(size=…)`` caps it across processes.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

import httpx


class FetchError(RuntimeError):
    """A request failed for good (after retries); the message names the URL without secrets."""


_host_limits: dict[str, threading.BoundedSemaphore] = {}
_host_lock = threading.Lock()
_default_cap: defaultdict[str, int] = defaultdict(lambda: 4)


def _host_semaphore(host: str, cap: int) -> threading.BoundedSemaphore:
    with _host_lock:
        sem = _host_limits.get(host)
        if sem is None or _default_cap[host] != cap:
            sem = _host_limits[host] = threading.BoundedSemaphore(cap)
            _default_cap[host] = cap
        return sem


def redact_url(url: str, secret_params: tuple[str, ...] = ("auth", "crtfc_key", "serviceKey")) -> str:
    """The URL with API keys (query or ECOS path segment) masked, for errors and logs."""
    parts = httpx.URL(url)
    query = "&".join(
        f"{k}={'***' if k in secret_params else v}" for k, v in parts.params.multi_items()
    )
    base = str(parts.copy_with(query=None))
    return f"{base}?{query}" if query else base


def get_json(
    url: str,
    params: dict[str, Any] | None = None,
    *,
    timeout_s: float = 10.0,
    retries: int = 3,
    backoff_s: float = 0.5,
    per_host_concurrency: int = 4,
    client: httpx.Client | None = None,
    display_url: str | None = None,
) -> Any:
    """GET ``url`` and decode JSON, retrying transient failures; raise :class:`FetchError`."""
    host = urlsplit(url).netloc
    shown = display_url or redact_url(str(httpx.URL(url, params=params)))
    own = client is None
    http = client or httpx.Client(timeout=timeout_s, follow_redirects=True)
    last = ""
    try:
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(backoff_s * (2 ** (attempt - 1)) * (1 + random.random() * 0.25))
            try:
                with _host_semaphore(host, per_host_concurrency):
                    resp = http.get(url, params=params, timeout=timeout_s)
            except httpx.TimeoutException:
                last = f"timed out after {timeout_s:g}s"
                continue
            except httpx.TransportError as exc:
                last = f"network error: {type(exc).__name__}"
                continue
            if resp.status_code >= 500:
                last = f"HTTP {resp.status_code}"
                continue
            if resp.status_code >= 400:
                raise FetchError(f"{shown}: HTTP {resp.status_code} (not retried)")
            try:
                return resp.json()
            except ValueError:
                raise FetchError(f"{shown}: response is not JSON ({resp.text[:80]!r})") from None
        raise FetchError(f"{shown}: {last} (gave up after {retries + 1} attempts)")
    finally:
        if own:
            http.close()
