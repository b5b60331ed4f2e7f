"""The FSS 금융상품한눈에 (finlife) OpenAPI: one page per call, ``err_cd`` mapped to clear errors.

``GET {base}/{endpoint}.json?auth=KEY&topFinGrpNo=020000&pageNo=N`` answers
``{"result": {"err_cd", "err_msg", "total_count", "max_page_no", "now_page_no",
"baseList": [...], "optionList": [...]}}``. An error still comes back as HTTP 200 with a non-"000"
``err_cd``, so the envelope is checked on every page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from finray.sources.http import FetchError, get_json

# finlife endpoints collected, and the 금융권역 codes (topFinGrpNo) each is asked for.
FINLIFE_ENDPOINTS = (
    "depositProductsSearch",
    "savingProductsSearch",
    "annuitySavingProductsSearch",
    "mortgageLoanProductsSearch",
    "rentHouseLoanProductsSearch",
    "creditLoanProductsSearch",
)
FIN_GROUP_CODES = ("020000", "030200", "030300", "050000", "060000")


class FinlifeError(FetchError):
    """The API answered with an error envelope."""

    def __init__(self, err_cd: str, err_msg: str, where: str) -> None:
        self.err_cd = err_cd
        self.kind = ERR_KIND.get(err_cd, "system error")
        super().__init__(f"finlife {where}: {self.kind} (err_cd {err_cd}: {err_msg})")


# err_cd values from the FSS OpenAPI guide.
ERR_KIND: dict[str, str] = {
    "010": "invalid API key (unregistered)",
    "011": "invalid API key (suspended)",
    "012": "invalid API key (deleted)",
    "013": "invalid API key (sample key)",
    "020": "daily request limit exceeded",
    "021": "invalid API key (IP not allowed)",
    "100": "bad parameter (missing required value)",
    "101": "bad parameter",
    "900": "system error",
}


@dataclass(frozen=True)
class FinlifePage:
    endpoint: str
    top_fin_grp_no: str
    page_no: int
    max_page_no: int
    total_count: int
    base_list: list[dict[str, Any]] = field(default_factory=list)
    option_list: list[dict[str, Any]] = field(default_factory=list)


def parse_envelope(payload: Any, endpoint: str, group: str, page_no: int) -> FinlifePage:
    """Check the envelope and return the page; raise FinlifeError on an error code."""
    where = f"{endpoint} topFinGrpNo={group} page={page_no}"
    result = payload.get("result") if isinstance(payload, dict) else None
    if not isinstance(result, dict):
        raise FetchError(f"finlife {where}: unexpected response shape (no 'result' object)")
    err_cd = str(result.get("err_cd", "")).strip()
    if err_cd != "000":
        raise FinlifeError(err_cd or "?", str(result.get("err_msg", "")), where)
    return FinlifePage(
        endpoint=endpoint,
        top_fin_grp_no=group,
        page_no=int(result.get("now_page_no") or page_no),
        max_page_no=int(result.get("max_page_no") or 1),
        total_count=int(result.get("total_count") or 0),
        base_list=list(result.get("baseList") or []),
        option_list=list(result.get("optionList") or []),
    )


def fetch_page(
    base_url: str,
    api_key: str,
    endpoint: str,
    group: str,
    page_no: int = 1,
    *,
    timeout_s: float = 10.0,
    retries: int = 3,
    backoff_s: float = 0.5,
    per_host_concurrency: int = 4,
) -> FinlifePage:
    """Fetch one page of one endpoint for one 금융권역."""
    url = f"{base_url.rstrip('/')}/{endpoint}.json"
    payload = get_json(
        url,
        {"auth": api_key, "topFinGrpNo": group, "pageNo": page_no},
        timeout_s=timeout_s,
        retries=retries,
        backoff_s=backoff_s,
        per_host_concurrency=per_host_concurrency,
    )
    return parse_envelope(payload, endpoint, group, page_no)
