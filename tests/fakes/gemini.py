"""Loopback fake of the Gemini Developer API's ``models/{model}:batchEmbedContents``.

Speaks the real wire format (``requests[].content.parts[].text``, ``taskType``,
``outputDimensionality`` in; ``embeddings[].values`` out; Google error envelopes), so the real
langchain-google-genai / google-genai client code runs against it. Vectors are a deterministic
function of (text, taskType) so tests can check roles and order.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from tests.fakes.loopback import LoopbackServer

VALID_KEY = "test-gemini-key"


def fake_vector(text: str, task_type: str, dim: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(f"{task_type}|{text}".encode()).digest()[:8], "big")
    v = np.random.default_rng(seed).standard_normal(dim)
    return (v * 3.0).round(6).tolist()  # deliberately not unit length, like truncated Gemini


def _error(code: int, status: str, message: str) -> tuple[int, Any, dict[str, str]]:
    return code, {"error": {"code": code, "message": message, "status": status}}, {}


def gemini_handler(method: str, path: str, query: dict, body: Any, headers: dict) -> tuple[int, Any, dict]:
    if headers.get("x-goog-api-key") != VALID_KEY:
        return _error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
    if method != "POST" or not path.endswith(":batchEmbedContents"):
        return _error(404, "NOT_FOUND", f"no route {method} {path}")
    requests = (body or {}).get("requests") or []
    if len(requests) > 100:
        return _error(400, "INVALID_ARGUMENT", "at most 100 requests can be in one batch")
    out = []
    for req in requests:
        text = "".join(p.get("text", "") for p in req["content"]["parts"])
        if "FAIL_ME" in text:
            return _error(500, "INTERNAL", "An internal error has occurred.")
        dim = int(req.get("outputDimensionality") or 3072)
        out.append({"values": fake_vector(text, req.get("taskType", ""), dim)})
    return 200, {"embeddings": out}, {}


def fake_gemini_server() -> LoopbackServer:
    return LoopbackServer(gemini_handler)
