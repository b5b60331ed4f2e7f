"""Server-Sent Events framing (WHATWG HTML "server-sent events" event stream format).

Each event is ``id:``, ``event:`` and one ``data:`` line of compact JSON, ended by a blank line.
JSON never contains a raw line break (``\\n`` inside strings is escaped), so one ``data:`` line
always holds the whole payload and a browser ``EventSource`` or any SSE client parses it as is.
"""

from __future__ import annotations

import json
from typing import Any

MEDIA_TYPE = "text/event-stream"
#: Sent with every stream: no caching, and no buffering by reverse proxies (nginx honours it).
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    if "\n" in event or "\r" in event:
        raise ValueError("SSE event names cannot contain line breaks")
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {payload}\n\n".encode()


def parse(stream: str) -> list[tuple[str, Any]]:
    """``[(event, data), ...]`` from SSE text (used by tests and the benchmark's client)."""
    events: list[tuple[str, Any]] = []
    for block in stream.replace("\r\n", "\n").split("\n\n"):
        name, data_lines = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data_lines.append(line[5:].lstrip(" "))
        if data_lines:
            events.append((name, json.loads("\n".join(data_lines))))
    return events
