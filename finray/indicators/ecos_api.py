"""The Bank of Korea ECOS OpenAPI ``StatisticSearch``: paging, error envelopes, redacted keys.

``GET {base}/StatisticSearch/{KEY}/json/kr/{start_row}/{end_row}/{stat_code}/{cycle}/{from}/{to}/
{item_code1}[/{item_code2}...]`` answers ``{"StatisticSearch": {"list_total_count": N, "row":
[{STAT_CODE, ITEM_CODE1, TIME, DATA_VALUE, UNIT_NAME, ...}]}}``. Errors come back as HTTP 200 with
``{"RESULT": {"CODE", "MESSAGE"}}``, so every page is checked for the envelope; the codes are mapped to error classes
the collector can act on (stop on a bad key, keep the old file on no data, retry server errors).

The API key is a **path segment**, not a query parameter, so :func:`redact_url` cannot find it:
every URL shown in an error is built with ``***`` in its place, and every message is scrubbed
of the key once more before it is raised (a message that leaks a key ends up in job logs).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from finray.indicators.series import EcosQuery
from finray.sources.http import FetchError, get_json


class EcosError(FetchError):
    """ECOS answered with an error envelope (``RESULT.CODE``), or the answer was unusable."""

    retryable = False

    def __init__(self, code: str, message: str, where: str) -> None:
        self.code = code
        self.ecos_message = message
        kind = ERROR_CODES.get(code, (EcosError, "unknown ECOS result code"))[1]
        super().__init__(f"ECOS {where}: {kind} ({code}: {message})")


class EcosAuthError(EcosError):
    """INFO-100: the key is invalid — no other request will succeed either."""


class EcosNoDataError(EcosError):
    """INFO-200: the query is valid but ECOS has no rows for it."""


class EcosRequestError(EcosError):
    """ERROR-1xx/2xx/3xx: the request itself is malformed; retrying cannot help."""


class EcosServerError(EcosError):
    """ERROR-400/500/600/601: ECOS-side trouble; worth retrying with backoff."""

    retryable = True


class EcosRateLimitError(EcosError):
    """ERROR-602: too many calls with this key; retrying now makes it worse."""


# Result codes of the ECOS OpenAPI guide (개발 명세서), plus 310/331/332 of the same Korean public
# OpenAPI code family (service name / start row / end row) that the issue lists.
ERROR_CODES: dict[str, tuple[type[EcosError], str]] = {
    "INFO-100": (EcosAuthError, "invalid API key"),
    "INFO-200": (EcosNoDataError, "no data for this query"),
    "ERROR-100": (EcosRequestError, "required value missing"),
    "ERROR-101": (EcosRequestError, "date format does not match the cycle"),
    "ERROR-200": (EcosRequestError, "file type missing or invalid"),
    "ERROR-300": (EcosRequestError, "row count missing"),
    "ERROR-301": (EcosRequestError, "row count is not an integer"),
    "ERROR-310": (EcosRequestError, "service not found"),
    "ERROR-331": (EcosRequestError, "invalid start row"),
    "ERROR-332": (EcosRequestError, "invalid end row"),
    "ERROR-400": (EcosServerError, "query timed out at ECOS (60 s)"),
    "ERROR-500": (EcosServerError, "ECOS server error"),
    "ERROR-600": (EcosServerError, "ECOS database connection error"),
    "ERROR-601": (EcosServerError, "ECOS SQL error"),
    "ERROR-602": (EcosRateLimitError, "too many requests (rate limited)"),
}


def ecos_error(code: str, message: str, where: str) -> EcosError:
    cls = ERROR_CODES.get(code, (EcosError, ""))[0]
    if cls is EcosError and code.startswith("ERROR-"):
        cls = EcosRequestError
    return cls(code, message, where)


@dataclass(frozen=True)
class EcosPage:
    total: int
    rows: list[dict[str, Any]]


def statistic_search_url(
    base_url: str, api_key: str, query: EcosQuery, start: str, end: str,
    start_row: int, end_row: int, lang: str = "kr",
) -> str:
    """The request URL (key included — never log it; use :func:`shown_url`)."""
    parts = [
        base_url.rstrip("/"), "StatisticSearch", api_key, "json", lang, str(start_row), str(end_row),
        query.stat_code, query.cycle, start, end, *query.item_codes,
    ]
    return "/".join(parts)


def shown_url(url: str, api_key: str) -> str:
    """``url`` with the key path segment masked."""
    return url.replace(f"/{api_key}/", "/***/") if api_key else url


def parse_page(payload: Any, where: str) -> EcosPage:
    """Check the envelope of one page and return its rows; raise the mapped :class:`EcosError`."""
    if not isinstance(payload, dict):
        raise EcosError("?", "response is not a JSON object", where)
    if "RESULT" in payload and "StatisticSearch" not in payload:
        res = payload.get("RESULT") or {}
        raise ecos_error(str(res.get("CODE", "?")), str(res.get("MESSAGE", "")), where)
    body = payload.get("StatisticSearch")
    if not isinstance(body, dict) or not isinstance(body.get("row"), list):
        raise EcosError("?", "unexpected response shape (no StatisticSearch.row list)", where)
    try:
        total = int(body.get("list_total_count"))
    except (TypeError, ValueError):
        raise EcosError("?", "list_total_count missing or not a number", where) from None
    return EcosPage(total=total, rows=list(body["row"]))


def fetch_series(
    base_url: str,
    api_key: str,
    query: EcosQuery,
    start: str,
    end: str,
    *,
    page_size: int = 1000,
    timeout_s: float = 10.0,
    retries: int = 3,
    backoff_s: float = 0.5,
    per_host_concurrency: int = 4,
    client: httpx.Client | None = None,
) -> list[dict[str, Any]]:
    """All rows of one query, fetched ``page_size`` rows at a time.

    The first page tells ``list_total_count``; later pages ask for rows ``k*page_size+1 ..``.
    HTTP-level failures are retried by :func:`get_json`; envelope server errors (ERROR-400/5xx/
    600/601) are retried here, since ECOS sends them with HTTP 200.
    """
    if page_size < 1:
        raise ValueError("page_size must be >= 1")
    own = client is None
    http = client or httpx.Client(timeout=timeout_s, follow_redirects=True)
    try:
        first = _page(http, base_url, api_key, query, start, end, 1, page_size,
                      timeout_s=timeout_s, retries=retries, backoff_s=backoff_s,
                      per_host_concurrency=per_host_concurrency)
        rows = list(first.rows)
        row = page_size + 1
        while row <= first.total:
            page = _page(http, base_url, api_key, query, start, end, row, row + page_size - 1,
                         timeout_s=timeout_s, retries=retries, backoff_s=backoff_s,
                         per_host_concurrency=per_host_concurrency)
            if not page.rows:
                break
            rows += page.rows
            row += page_size
        if len(rows) != first.total:
            where = f"{query.stat_code}/{query.cycle}/{'/'.join(query.item_codes)}"
            raise EcosError("?", f"got {len(rows)} rows, list_total_count says {first.total}", where)
        return rows
    finally:
        if own:
            http.close()


def _page(
    http: httpx.Client, base_url: str, api_key: str, query: EcosQuery, start: str, end: str,
    start_row: int, end_row: int, *, timeout_s: float, retries: int, backoff_s: float,
    per_host_concurrency: int,
) -> EcosPage:
    url = statistic_search_url(base_url, api_key, query, start, end, start_row, end_row)
    shown = shown_url(url, api_key)
    where = f"{query.stat_code}/{query.cycle}/{'/'.join(query.item_codes)} rows {start_row}-{end_row}"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff_s * (2 ** (attempt - 1)) * (1 + random.random() * 0.25))
        try:
            payload = get_json(url, timeout_s=timeout_s, retries=retries, backoff_s=backoff_s,
                               per_host_concurrency=per_host_concurrency, client=http,
                               display_url=shown)
            return parse_page(payload, where)
        except EcosError as exc:
            if not exc.retryable or attempt == retries:
                raise _scrub(exc, api_key) from None
        except FetchError as exc:
            raise _scrub(exc, api_key) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _scrub(exc: FetchError, api_key: str) -> FetchError:
    """The same exception with the key removed from its message (belt and braces)."""
    if api_key and api_key in str(exc):
        exc.args = (str(exc).replace(api_key, "***"),)
    return exc
