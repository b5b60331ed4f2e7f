"""Loopback fake of a Slack incoming webhook (``POST /services/T…/B…/…``).

Answers like Slack does (api.slack.com/messaging/webhooks, "Handling errors"): ``200 ok``
(text/plain) for a JSON body with ``text`` or ``blocks``; ``400 invalid_payload`` for anything
else; ``403 invalid_token`` / ``404 no_service`` for a wrong webhook path; and, when
:attr:`FakeSlack.rate_limit_next` is set, ``429`` with ``Retry-After``.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.fakes.loopback import LoopbackServer

HOOK_PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


class FakeSlack:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.rate_limit_next = 0  # answer this many posts with 429 first
        self.retry_after_s = 1
        self.fail_with: int | None = None  # e.g. 500
        self._lock = threading.Lock()
        self.server = LoopbackServer(self.handle)

    @property
    def webhook_url(self) -> str:
        return self.server.url + HOOK_PATH

    def __enter__(self) -> FakeSlack:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    def handle(self, method: str, path: str, query: dict, body: Any, headers: dict) -> tuple[int, Any, dict]:
        text = {"Content-Type": "text/plain"}
        if method != "POST":
            return 405, b"invalid_method", text
        if not path.startswith("/services/"):
            return 404, b"no_service", text
        if path != HOOK_PATH:
            return 403, b"invalid_token", text
        with self._lock:
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                return 429, b"rate_limited", {**text, "Retry-After": str(self.retry_after_s)}
            if self.fail_with:
                return self.fail_with, b"internal_error", text
            if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
                return 400, b"invalid_payload", text
            self.messages.append(body)
        return 200, b"ok", text
