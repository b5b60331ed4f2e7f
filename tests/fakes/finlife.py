"""Loopback replay of the FSS finlife OpenAPI built from recorded real rows.

``GET /finlifeapi/{endpoint}.json?auth=&topFinGrpNo=&pageNo=`` answers the real envelope
(``result.err_cd/err_msg/total_count/max_page_no/now_page_no/baseList/optionList``) with the
bundled rows split into pages of ``page_size`` products (options follow their products).
Failures are injected per (endpoint, group, page): an error envelope, a slow page (timeout),
HTTP 500 for the first N attempts, or malformed rows appended to a page.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.loopback import LoopbackServer

FINLIFE = Path(__file__).resolve().parents[2] / "finray" / "bundled" / "finlife"
VALID_KEY = "test-finlife-key"


#: Fields the fixtures' project added to the API rows (not part of the finlife API): dropped.
_FIXTURE_ONLY_FIELDS = {"product", "product_type"}


def _fixture_rows(products_file: str, options_file: str) -> tuple[list[dict], list[dict]]:
    base = [json.loads(json.dumps(r["fields"])) for r in json.loads((FINLIFE / products_file).read_text("utf-8"))]
    opts = [r["fields"] for r in json.loads((FINLIFE / options_file).read_text("utf-8"))]
    strip = lambda row: {k: v for k, v in row.items() if k not in _FIXTURE_ONLY_FIELDS}  # noqa: E731
    return [strip(b) for b in base], [strip(o) for o in opts]


def _annuity_group(row: dict) -> str:
    """연금저축펀드 are sold by 금융투자 (060000), 연금저축보험 by 보험 (050000)."""
    return "060000" if "펀드" in (row.get("pnsn_kind_nm") or "") else "050000"


def recorded_rows() -> dict[tuple[str, str], tuple[list[dict], list[dict]]]:
    """(endpoint, group) -> (baseList, optionList) from the recorded real API rows.

    Deposits and savings are real API pages (banks, 2026-07). 연금저축 and 신용대출 rows come from
    the bundled fixtures, whose rows are the API's fields (the fixture-only columns dropped);
    mortgage and 전세 loans have no recorded rows, so those endpoints answer an empty list.
    """
    out = {}
    for name in ("deposit_202607_bank_rag_project.json", "saving_202607_bank_rag_project.json"):
        d = json.loads((FINLIFE / name).read_text(encoding="utf-8"))
        out[(d["endpoint"], d["top_fin_grp_no"])] = (d["base_list"], d["option_list"])
    base, opts = _fixture_rows("thefp_fixture_annuity_products.json", "thefp_fixture_annuity_options.json")
    for group in ("050000", "060000"):
        rows = [b for b in base if _annuity_group(b) == group]
        keys = {(b["fin_co_no"], b["fin_prdt_cd"]) for b in rows}
        out[("annuitySavingProductsSearch", group)] = (
            rows, [o for o in opts if (o["fin_co_no"], o["fin_prdt_cd"]) in keys])
    out[("creditLoanProductsSearch", "020000")] = _fixture_rows(
        "thefp_fixture_creditloan_products.json", "thefp_fixture_creditloan_options.json")
    return out


@dataclass
class Faults:
    envelope: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # -> (err_cd, msg)
    slow: dict[tuple[str, str, int], float] = field(default_factory=dict)  # -> seconds
    http_500: dict[tuple[str, str, int], int] = field(default_factory=dict)  # -> failures before OK
    malformed: dict[tuple[str, str, int], list[dict]] = field(default_factory=dict)  # extra base rows


class FinlifeReplay:
    def __init__(self, page_size: int = 10, faults: Faults | None = None) -> None:
        self.rows = recorded_rows()
        self.page_size = page_size
        self.faults = faults or Faults()
        self._attempts: dict[tuple[str, str, int], int] = {}
        self._lock = threading.Lock()
        self.server = LoopbackServer(self.handle)

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/finlifeapi"

    def __enter__(self) -> FinlifeReplay:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    def page(self, endpoint: str, group: str, page_no: int) -> dict[str, Any]:
        base, options = self.rows.get((endpoint, group), ([], []))
        max_page = max(1, -(-len(base) // self.page_size)) if base else 0
        chunk = base[(page_no - 1) * self.page_size : page_no * self.page_size]
        keys = {(b["fin_co_no"], b["fin_prdt_cd"]) for b in chunk}
        opts = [o for o in options if (o["fin_co_no"], o["fin_prdt_cd"]) in keys]
        chunk = chunk + self.faults.malformed.get((endpoint, group, page_no), [])
        return {"result": {
            "prdt_div": "D", "total_count": str(len(base)), "max_page_no": str(max_page),
            "now_page_no": str(page_no), "err_cd": "000", "err_msg": "정상",
            "baseList": chunk, "optionList": opts,
        }}

    def handle(self, method: str, path: str, query: dict, body: Any, headers: dict) -> tuple[int, Any, dict]:
        endpoint = path.rsplit("/", 1)[-1].removesuffix(".json")
        group = (query.get("topFinGrpNo") or [""])[0]
        page_no = int((query.get("pageNo") or ["1"])[0])
        key = (endpoint, group, page_no)
        if (query.get("auth") or [""])[0] != VALID_KEY:
            return 200, {"result": {"err_cd": "010", "err_msg": "미등록 인증키"}}, {}
        if (endpoint, group) in self.faults.envelope:
            cd, msg = self.faults.envelope[(endpoint, group)]
            return 200, {"result": {"err_cd": cd, "err_msg": msg}}, {}
        with self._lock:
            self._attempts[key] = self._attempts.get(key, 0) + 1
            attempt = self._attempts[key]
        if attempt <= self.faults.http_500.get(key, 0):
            return 500, b"Internal Server Error", {"Content-Type": "text/plain"}
        if key in self.faults.slow:
            time.sleep(self.faults.slow[key])
        return 200, self.page(endpoint, group, page_no), {}

    def attempts(self, endpoint: str, group: str, page_no: int) -> int:
        return self._attempts.get((endpoint, group, page_no), 0)
