"""Error alerts to a Slack incoming webhook: deduplicated, rate-limited, scrubbed, non-blocking.

Unhandled API exceptions and failed data jobs post here (``SLACK_WEBHOOK_URL``). The rules:

* **Never a secret or PII.** Every piece of text goes through :func:`finray.privacy.redact`
  (PII masks, bearer tokens, JWTs, refresh tokens, ``key=…`` credentials, URL passwords, API
  keys) plus the exact values of the configured secrets. Tracebacks are reduced to
  ``file:line in function`` frames — no source lines, no locals, no request bodies or headers.
* **Deduplicated.** Alerts share a *fingerprint* (title + exception type + where it was raised,
  not the message, which varies with data). The same fingerprint within ``ALERT_DEDUPE_S`` is
  suppressed and counted; the next one that goes out says how many were suppressed. With
  ``REDIS_URL`` the window is shared by all replicas and jobs (``SET NX PX``); otherwise it is
  per process.
* **Rate-limited.** At most ``ALERT_MAX_PER_MIN`` posts per minute (token bucket) so an outage
  cannot flood the channel; Slack's own ``429 Retry-After`` is honoured once per message.
* **Non-blocking.** :meth:`SlackAlerter.alert` only formats and enqueues (bounded queue; when
  full the alert is dropped and counted); a daemon thread posts. Failures are logged, never
  raised. Short-lived processes (a data job's CLI) call :meth:`SlackAlerter.flush` with a
  bounded timeout before exiting.

The webhook URL itself is a credential: it is never logged (only its host is).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from finray.ratelimit import BucketPolicy, InProcessRateLimiter
from finray.config import Settings, SettingsError, load_settings
from finray.privacy import redact

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2900  # Slack section blocks take 3,000 characters of mrkdwn
MAX_FRAMES = 8
MAX_RETRY_AFTER_S = 30.0


@dataclass
class AlertStats:
    queued: int = 0
    sent: int = 0
    suppressed: int = 0
    rate_limited: int = 0
    dropped: int = 0
    failed: int = 0
    suppressed_by_fp: dict[str, int] = field(default_factory=dict)


def fingerprint(title: str, error: BaseException | None = None) -> str:
    """Stable identity of "the same problem": title, exception type and raising frame."""
    parts = [title]
    if error is not None:
        parts.append(type(error).__qualname__)
        tb = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
        if tb:
            parts.append(f"{tb[-1].filename}:{tb[-1].name}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def _frames(error: BaseException) -> list[str]:
    """``pkg/module.py:12 in func`` for the innermost frames; no source lines, no locals."""
    tb = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    return ["/".join(f.filename.split("/")[-2:]) + f":{f.lineno} in {f.name}" for f in tb[-MAX_FRAMES:]]


def secrets_of(settings: Settings) -> list[str]:
    """The configured secret values, for exact-value scrubbing."""
    values: list[str] = []
    for name in ("auth_jwt_secret", "kakao_client_secret"):
        v = getattr(settings, name, None)
        if v is not None:
            values.append(v.get_secret_value())
    for name in ("google_api_key", "finlife_api_key", "data_go_kr_api_key", "ecos_api_key",
                 "slack_webhook_url", "mongodb_uri", "redis_url", "user_db_url"):
        v = getattr(settings, name, None)
        if v:
            values.append(str(v))
    return values


class SlackAlerter:
    """Posts alerts to one incoming webhook; see the module docstring for the rules."""

    def __init__(
        self,
        webhook_url: str | None,
        *,
        environment: str = "dev",
        dedupe_window_s: float = 600.0,
        max_per_min: int = 10,
        extra_secrets: Iterable[str] = (),
        redis_url: str | None = None,
        timeout_s: float = 5.0,
        queue_size: int = 100,
        clock: Callable[[], float] = time.monotonic,
        http: httpx.Client | None = None,
    ) -> None:
        self.webhook_url = webhook_url
        self.environment = environment
        self.dedupe_window_s = dedupe_window_s
        self.stats = AlertStats()
        self._secrets = tuple(s for s in (*extra_secrets, webhook_url) if s)
        self._clock = clock
        self._bucket = InProcessRateLimiter(max_keys=4, clock=clock)
        self._policy = BucketPolicy.per_minute(max_per_min, max_per_min)
        self._last_sent: dict[str, float] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._http = http or httpx.Client(timeout=timeout_s)
        self._worker: threading.Thread | None = None
        self._redis = None
        if redis_url:
            try:
                import redis

                self._redis = redis.Redis.from_url(redis_url, socket_timeout=1.0)
            except Exception as err:  # noqa: BLE001 - dedupe falls back to in-process
                log.warning("alerts: Redis dedupe unavailable (%s); deduplicating per process", type(err).__name__)

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> SlackAlerter:
        return cls(
            settings.slack_webhook_url,
            environment=settings.env,
            dedupe_window_s=settings.alert_dedupe_s,
            max_per_min=settings.alert_max_per_min,
            extra_secrets=secrets_of(settings),
            redis_url=settings.redis_url,
            **kw,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url)

    # --- the caller's side: cheap, never raises ------------------------------------------
    def alert(
        self,
        title: str,
        *,
        detail: str = "",
        error: BaseException | None = None,
        context: Mapping[str, object] | None = None,
        fingerprint_key: str | None = None,
    ) -> bool:
        """Queue an alert; ``True`` if it will be posted, ``False`` if suppressed or dropped."""
        if not self.enabled:
            return False
        try:
            fp = (
                hashlib.sha256(fingerprint_key.encode()).hexdigest()[:20]
                if fingerprint_key else fingerprint(title, error)
            )
            if not self._first_in_window(fp):
                return False
            if not self._bucket.hit("slack", self._policy).allowed:
                self._forget(fp)  # not sent, so it must not suppress the next identical alert
                with self._lock:
                    self.stats.rate_limited += 1
                return False
            with self._lock:
                suppressed = self.stats.suppressed_by_fp.pop(fp, 0)
            payload = self._payload(title, detail, error, context, suppressed)
            self._enqueue(payload)
            return True
        except Exception as err:  # noqa: BLE001 - alerting must never break the caller
            log.warning("alerts: could not queue alert: %s", type(err).__name__)
            return False

    def _first_in_window(self, fp: str) -> bool:
        if self._redis is not None:
            try:
                ok = self._redis.set(f"finray:alert:{fp}", b"1", nx=True, px=max(1, int(self.dedupe_window_s * 1000)))
                if not ok:
                    self._count_suppressed(fp)
                return bool(ok)
            except Exception as err:  # noqa: BLE001 - fall back to the in-process window
                log.warning("alerts: Redis dedupe failed (%s); using the in-process window", type(err).__name__)
        now = self._clock()
        with self._lock:
            last = self._last_sent.get(fp)
            if last is not None and now - last < self.dedupe_window_s:
                self.stats.suppressed += 1
                self.stats.suppressed_by_fp[fp] = self.stats.suppressed_by_fp.get(fp, 0) + 1
                return False
            self._last_sent[fp] = now
            if len(self._last_sent) > 10_000:  # bounded: forget the oldest half
                for key in sorted(self._last_sent, key=self._last_sent.__getitem__)[:5000]:
                    del self._last_sent[key]
        return True

    def _forget(self, fp: str) -> None:
        with self._lock:
            self._last_sent.pop(fp, None)
        if self._redis is not None:
            try:
                self._redis.delete(f"finray:alert:{fp}")
            except Exception:  # noqa: BLE001
                pass

    def _count_suppressed(self, fp: str) -> None:
        with self._lock:
            self.stats.suppressed += 1
            self.stats.suppressed_by_fp[fp] = self.stats.suppressed_by_fp.get(fp, 0) + 1

    def _clean(self, text: str) -> str:
        return redact(text, self._secrets)

    def _payload(
        self,
        title: str,
        detail: str,
        error: BaseException | None,
        context: Mapping[str, object] | None,
        suppressed: int,
    ) -> dict[str, Any]:
        head = self._clean(f"[finray {self.environment}] {title}")
        lines = [f":rotating_light: *{head}*"]
        if detail:
            lines.append(self._clean(detail))
        if error is not None:
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            lines.append(f"`{type(error).__qualname__}: {self._clean(message)[:500]}`")
            frames = _frames(error)
            if frames:
                lines.append("```" + "\n".join(self._clean(f) for f in frames) + "```")
        for key, value in (context or {}).items():
            lines.append(f"• {self._clean(str(key))}: {self._clean(str(value))[:300]}")
        if suppressed:
            lines.append(f"_({suppressed} identical alert(s) suppressed in the last {int(self.dedupe_window_s)} s)_")
        text = "\n".join(lines)
        if len(text) > MAX_TEXT_CHARS:
            text = text[: MAX_TEXT_CHARS - 1] + "…"
        return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}

    def _enqueue(self, payload: dict[str, Any]) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="slack-alerts", daemon=True)
                self._worker.start()
            try:
                self._queue.put_nowait(payload)
            except queue.Full:
                self.stats.dropped += 1
                log.warning("alerts: queue full; alert dropped")
                return
            self._pending += 1
            self.stats.queued += 1

    # --- the worker's side -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            try:
                self._post(payload)
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()

    def _post(self, payload: dict[str, Any]) -> None:
        host = urlsplit(self.webhook_url or "").netloc
        for attempt in (1, 2):
            try:
                resp = self._http.post(self.webhook_url or "", json=payload)
            except httpx.HTTPError as err:
                self.stats.failed += 1
                log.warning("alerts: posting to %s failed: %s", host, type(err).__name__)
                return
            if resp.status_code == 200:
                self.stats.sent += 1
                return
            if resp.status_code == 429 and attempt == 1:
                try:
                    wait = float(resp.headers.get("Retry-After", "1"))
                except ValueError:
                    wait = 1.0
                time.sleep(min(max(wait, 0.0), MAX_RETRY_AFTER_S))
                continue
            self.stats.failed += 1
            log.warning("alerts: %s answered HTTP %s: %s", host, resp.status_code, resp.text[:100])
            return

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait (at most ``timeout_s``) until every queued alert was posted or failed."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout_s: float = 2.0) -> None:
        self.flush(timeout_s)
        if self._worker is not None and self._worker.is_alive():
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass
            self._worker.join(timeout_s)
        self._http.close()


def notify_job_failure(job: str, reason: str, *, flush_timeout_s: float = 5.0) -> bool:
    """Alert that data job ``job`` failed; for the jobs CLI. Never raises; waits ≤ the timeout.

    Returns ``True`` if the alert was posted.
    """
    try:
        settings = load_settings()
    except SettingsError:
        return False
    if not settings.slack_webhook_url:
        return False
    alerter = SlackAlerter.from_settings(settings)
    try:
        if not alerter.alert(f"data job {job} failed", detail=reason, fingerprint_key=f"job:{job}:{reason[:120]}"):
            return False
        alerter.flush(flush_timeout_s)
        return alerter.stats.sent > 0
    finally:
        alerter.close(timeout_s=0.5)
