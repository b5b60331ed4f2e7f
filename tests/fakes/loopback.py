"""A tiny threaded loopback HTTP server that the protocol fakes build on.

Fakes answer real HTTP on 127.0.0.1 so the production client code (httpx, google-genai,
pymongo's HTTP-free parts aside) runs unchanged against them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# handler(method, path, query, json_body, headers) -> (status, json_payload | bytes, headers)
Handler = Callable[[str, str, dict[str, list[str]], Any, dict[str, str]], tuple[int, Any, dict[str, str]]]


class LoopbackServer:
    """Serve ``handler`` on an ephemeral 127.0.0.1 port; use as a context manager."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class _H(BaseHTTPRequestHandler):
            def _dispatch(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append(
                    {"method": self.command, "path": parts.path, "query": parse_qs(parts.query),
                     "body": body, "headers": headers}
                )
                status, payload, extra = handler(self.command, parts.path, parse_qs(parts.query), body, headers)
                data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", extra.pop("Content-Type", "application/json; charset=utf-8"))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _dispatch

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
