"""Recording what the advisor answered: chat-log and feedback records, and a batching log writer.

Every AI answer (chat, recommendation) becomes a :class:`~finray.stores.base.ChatLog`; admins
read them back (``/admin/logs``) and :mod:`finray.admin_stats` aggregates them. The id is handed
to the client with the answer so that feedback on the answer can point at it.

Why a writer that batches: a request must not wait for its log to be written, and on LanceDB
every write is a new table version — one write per request would pile up thousands of versions
and make every later read of the logs slower. :class:`BufferedLogWriter` takes logs from request
threads without blocking and writes them in one :meth:`~finray.stores.base.Store.add_chat_logs`
call per flush (every ``flush_interval_s`` or ``max_batch`` logs). A failed write is retried on
the next flush (logs are kept, oldest first, up to ``max_pending``); :meth:`close` flushes what
is left. Feedback is *not* buffered: a dislike must take effect on the very next recommendation.

PII: customers type phone, account and card numbers into a chat, so what is stored is masked
(:func:`finray.privacy.redact_chat_text`): every chat log (chat, recommendation, forecast) passes
through :class:`BufferedLogWriter`, which masks question and answer just before the store write —
on its own thread, off the answer's path — and :func:`feedback_record` masks the comment. The
customer still sees their own answer unmasked; only what is stored is masked.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from finray.privacy import redact_chat_text
from finray.stores.base import ChatLog, Feedback, Store

log = logging.getLogger(__name__)

#: Log ids look like ``log_<32 hex>``; feedback on an answer must name one.
LOG_ID_PATTERN = r"^log_[0-9a-f]{32}$"
_LOG_ID_RE = re.compile(LOG_ID_PATTERN)


def utc_now() -> datetime:
    """Aware UTC now (stores keep UTC; naive datetimes are read as UTC)."""
    return datetime.now(UTC)


def new_log_id() -> str:
    return f"log_{uuid.uuid4().hex}"


def new_feedback_id() -> str:
    return f"fb_{uuid.uuid4().hex}"


def is_log_id(value: str) -> bool:
    return bool(_LOG_ID_RE.fullmatch(value))


def answer_log(
    *,
    log_id: str,
    user_id: str,
    kind: Literal["chat", "recommendation", "forecast"],
    question: str,
    answer: str,
    product_ids: Iterable[str],
    generator: str,
    latency_ms: float,
    meta: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> ChatLog:
    """The log of one AI answer; ``latency_ms`` is what the customer waited, rounded to 0.1 ms."""
    return ChatLog(
        log_id=log_id,
        user_id=user_id,
        kind=kind,
        question=question,
        answer=answer,
        product_ids=list(dict.fromkeys(product_ids)),
        generator=generator,
        latency_ms=round(max(latency_ms, 0.0), 1),
        created_at=created_at or utc_now(),
        meta=dict(meta or {}),
    )


def masked(entry: ChatLog) -> ChatLog:
    """The log as it may be stored: PII masked in question and answer (masking twice is a no-op)."""
    return entry.model_copy(
        update={"question": redact_chat_text(entry.question), "answer": redact_chat_text(entry.answer)}
    )


def feedback_record(
    *,
    user_id: str,
    target: Literal["product", "answer"],
    target_id: str,
    rating: Literal["like", "dislike"],
    comment: str | None = None,
) -> Feedback:
    return Feedback(
        feedback_id=new_feedback_id(),
        user_id=user_id,
        target=target,
        target_id=target_id,
        rating=rating,
        comment=redact_chat_text((comment or "").strip()) or None,
        created_at=utc_now(),
    )


class BufferedLogWriter:
    """Write chat logs in batches from a background thread (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        flush_interval_s: float = 0.5,
        max_batch: int = 256,
        max_pending: int = 50_000,
    ) -> None:
        if flush_interval_s <= 0 or max_batch < 1 or max_pending < max_batch:
            raise ValueError("flush_interval_s > 0, max_batch >= 1 and max_pending >= max_batch required")
        self._store = store
        self._interval = flush_interval_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._pending: deque[ChatLog] = deque()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one write at a time (flush() may race the thread)
        self._wake = threading.Event()
        self._closed = False
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="chat-log-writer", daemon=True)
        self._thread.start()

    def submit(self, entry: ChatLog) -> None:
        """Queue a log; never blocks on the store. Oldest logs are dropped past ``max_pending``."""
        with self._lock:
            if self._closed:
                raise RuntimeError("log writer is closed")
            self._pending.append(entry)
            if len(self._pending) > self._max_pending:
                self._pending.popleft()
                self.dropped += 1
                log.error("chat-log backlog over %d: oldest log dropped", self._max_pending)
            if len(self._pending) >= self._max_batch:
                self._wake.set()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> int:
        """Write everything queued now (in batches); returns how many logs were written."""
        total = 0
        with self._write_lock:
            while True:
                with self._lock:
                    n = min(self._max_batch, len(self._pending))
                    batch = [self._pending.popleft() for _ in range(n)]
                if not batch:
                    return total
                batch = [masked(entry) for entry in batch]  # PII never reaches the store
                try:
                    self._store.add_chat_logs(batch)
                except Exception as err:  # noqa: BLE001 - keep the logs, retry on the next flush
                    self.failures += 1
                    log.warning("chat-log write of %d logs failed, will retry: %s", len(batch), err)
                    with self._lock:  # back at the front, oldest first
                        self._pending.extendleft(reversed(batch))
                        while len(self._pending) > self._max_pending:
                            self._pending.popleft()
                            self.dropped += 1
                    return total
                self.written += len(batch)
                total += len(batch)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the thread and write what is left (retrying until ``timeout_s``)."""
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join(timeout_s)
        deadline = time.monotonic() + timeout_s
        while self.pending and time.monotonic() < deadline:
            if not self.flush():
                time.sleep(0.2)
        if self.pending:
            log.error("chat-log writer closed with %d logs unwritten", self.pending)
