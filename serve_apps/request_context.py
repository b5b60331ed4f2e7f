"""Per-request context for the HTTP app: the request id, and request counts and latencies.

The request id is the incoming ``X-Request-ID`` when it is a sane token (≤ 128 characters of
``[A-Za-z0-9._:-]``), else a new one. Behind Ray Serve the proxy has already put one on every
request (the client's or its own) and sends it back as the ``X-Request-ID`` response header and
stamps it on every replica log line, so the middleware only reads it (``echo_header=False``);
outside Serve (``create_app`` used directly) it echoes the header itself. Routes and error
handlers find it on ``request.state.request_id``.

Latency is measured to the *last* body byte, so a streamed chat answer counts its full duration
(its first chunk is measured separately, ``finray_chat_first_chunk_ms``).
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve_apps.observability import ServeMetrics

_RID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_from(scope: Scope) -> str:
    for key, value in scope.get("headers") or ():
        if key == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            if _RID_RE.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def endpoint_of(scope: Scope) -> str:
    """The route template (``/api/v1/recommendations/{user_id}``), never the raw path (cardinality).

    Rebuilt from the matched path parameters: whole path segments equal to a parameter's value
    become ``{name}`` again (routers included with a prefix do not expose the full template).
    """
    if scope.get("route") is None:
        return "unmatched"
    names = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    return "/".join(f"{{{names[seg]}}}" if seg in names else seg for seg in str(scope.get("path", "")).split("/"))


class RequestContextMiddleware:
    """Pure ASGI middleware (streaming-safe, unlike ``BaseHTTPMiddleware``)."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics | None = None, echo_header: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.echo_header = echo_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded or self.metrics is None:
                return
            recorded = True
            endpoint, method = endpoint_of(scope), scope.get("method", "")
            self.metrics.requests.inc(tags={"endpoint": endpoint, "method": method, "status": str(status)})
            self.metrics.latency.observe(
                (time.perf_counter() - started) * 1000, tags={"endpoint": endpoint, "method": method}
            )

        async def send_with_context(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if self.echo_header:
                    headers = MutableHeaders(scope=message)
                    if "x-request-id" not in headers:
                        headers.append("X-Request-ID", rid)
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                record()

        try:
            await self.app(scope, receive, send_with_context)
        finally:
            record()  # disconnects and errors count too (status 500 unless a response started)
