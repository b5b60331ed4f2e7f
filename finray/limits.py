"""Input bounds of the public API, in one place so models, dependencies and docs agree.

Each bound protects something concrete: question length bounds LLM/embedder cost per request,
months bounds the forecast horizon to what the models were validated on, page size bounds the
work and memory of list endpoints, and the body-size limit (``MAX_REQUEST_BODY_BYTES``, enforced
by the ASGI middleware in ``serve_apps/security.py`` with 413) stops oversized uploads before any
parsing happens.
"""

from __future__ import annotations

import re

from finray.users.models import USER_ID_DIGITS

USER_ID_PATTERN = rf"^U\d{{{USER_ID_DIGITS}}}$"
MAX_QUESTION_CHARS = 2000
MONTHS_MIN, MONTHS_MAX = 1, 24
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 20, 100
OFFSET_MAX = 100_000

_USER_ID_RE = re.compile(USER_ID_PATTERN)


class InputError(ValueError):
    """An input is out of bounds; the message names the field and the bound."""


def check_user_id(value: str) -> str:
    if not isinstance(value, str) or not _USER_ID_RE.match(value):
        raise InputError(f"user_id: expected U followed by {USER_ID_DIGITS} digits (e.g. U0000001), got {value!r:.40}")
    return value


def check_question(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError("question: must not be empty")
    if len(value) > MAX_QUESTION_CHARS:
        raise InputError(f"question: at most {MAX_QUESTION_CHARS:,} characters, got {len(value):,}")
    return value


def check_months(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not MONTHS_MIN <= value <= MONTHS_MAX:
        raise InputError(f"months: expected {MONTHS_MIN}–{MONTHS_MAX}, got {value!r}")
    return value


def check_page(offset: int, limit: int) -> tuple[int, int]:
    """``(offset, limit)`` if both are within bounds."""
    if not 0 <= offset <= OFFSET_MAX:
        raise InputError(f"offset: expected 0–{OFFSET_MAX:,}, got {offset}")
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise InputError(f"limit: expected 1–{PAGE_SIZE_MAX}, got {limit}")
    return offset, limit
