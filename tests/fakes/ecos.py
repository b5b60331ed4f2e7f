"""A replay fake of the ECOS ``StatisticSearch`` API on a loopback port.

Its data are the recorded ECOS response (722Y001 2011-01..10, served verbatim) and the bundled
indicator files rendered into the **real ECOS row shape** (the 14 fields of the recorded rows,
``TIME`` as YYYYMM / YYYYMMDD, ``DATA_VALUE`` as a string). Nothing is invented: a month the
bundled files do not have is not served. Daily series are served as daily rows (like ECOS — the
forward-filled weekend rows of the ktb3y file are left out, KOSPI's Saturday sessions of the 1990s
are real and kept), monthly series as monthly rows.

Scenarios are switches on the fake: a wrong key gets the INFO-100 envelope, ``no_data`` stat
codes get INFO-200, ``http_500_first[stat]`` answers HTTP 500 that many times before succeeding,
``envelope_errors[stat]`` returns those RESULT codes first (e.g. ERROR-500, ERROR-602).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from finray.indicators.series import (
    INDICATORS,
    EcosQuery,
    ecos_time,
    load_bundled,
    load_bundled_observations,
    recorded_ecos_response,
)
from tests.fakes.loopback import LoopbackServer

MESSAGES = {
    "INFO-100": "인증키가 유효하지 않습니다. 인증키를 확인하십시오! 인증키가 없는 경우 인증키를 신청하십시오!",
    "INFO-200": "해당하는 데이터가 없습니다.",
    "ERROR-500": "서버 오류입니다. OpenAPI 호출시 파라미터값들이 정확한지 확인하시기 바랍니다.",
    "ERROR-602": "과도한 OpenAPI호출로 이용이 제한되었습니다. 잠시후 이용해주시기 바랍니다.",
}


def _fmt(v: float) -> str:
    text = f"{v:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def render_rows(query: EcosQuery, name: str, item_name: str, unit: str, series: pd.Series) -> list[dict[str, Any]]:
    """Values (DatetimeIndex or PeriodIndex) → ECOS ``row`` dicts in the recorded field order."""
    rows = []
    codes = list(query.item_codes) + [None] * (4 - len(query.item_codes))
    for t, v in series.dropna().items():
        ts = t.to_timestamp() if isinstance(t, pd.Period) else pd.Timestamp(t)
        rows.append({
            "STAT_CODE": query.stat_code, "STAT_NAME": name,
            "ITEM_CODE1": codes[0], "ITEM_NAME1": item_name,
            "ITEM_CODE2": codes[1], "ITEM_NAME2": None if codes[1] is None else "평균자료",
            "ITEM_CODE3": codes[2], "ITEM_NAME3": None, "ITEM_CODE4": codes[3], "ITEM_NAME4": None,
            "UNIT_NAME": unit, "WGT": None, "TIME": ecos_time(ts, query.cycle),
            "DATA_VALUE": _fmt(float(v)),
        })
    return rows


def bundled_tables() -> dict[tuple[str, str, tuple[str, ...]], list[dict[str, Any]]]:
    """(stat_code, cycle, item_codes) → all rows the fake serves, oldest first."""
    tables: dict[tuple[str, str, tuple[str, ...]], list[dict[str, Any]]] = {}
    for key, ind in INDICATORS.items():
        q = ind.ecos
        if q.cycle == "M":
            values: pd.Series = load_bundled(key)
        else:  # daily source rows as in the file ...
            (obs,) = load_bundled_observations(key)
            values = obs.values
            if ind.aggregation == "mean":  # ... minus forward-filled weekends (ECOS has none);
                values = values[values.index.dayofweek < 5]  # KOSPI's 1990s Saturdays were real sessions
        rows = render_rows(q, f"fake {ind.name_ko}", ind.name_ko, ind.unit, values)
        if key == "base_rate":  # the recorded months are served exactly as ECOS sent them
            recorded = {r["TIME"]: r for r in recorded_ecos_response()["StatisticSearch"]["row"]}
            rows = [recorded.get(r["TIME"], r) for r in rows]
        tables[(q.stat_code, q.cycle, q.item_codes)] = rows
    return tables


class EcosFake:
    """The handler + state; ``with EcosFake(...) as fake: fake.base_url`` for ``ECOS_BASE_URL``."""

    def __init__(
        self,
        api_key: str = "test-ecos-key",
        *,
        no_data: set[str] | None = None,
        http_500_first: dict[str, int] | None = None,
        envelope_errors: dict[str, list[str]] | None = None,
        tables: dict[tuple[str, str, tuple[str, ...]], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.api_key = api_key
        self.no_data = set(no_data or ())
        self.http_500_first = dict(http_500_first or {})
        self.envelope_errors = {k: list(v) for k, v in (envelope_errors or {}).items()}
        self.tables = tables if tables is not None else bundled_tables()
        self.calls: defaultdict[str, int] = defaultdict(int)
        self.server = LoopbackServer(self.handle)

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/api"

    def __enter__(self) -> EcosFake:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    def handle(self, method: str, path: str, query: dict, body: Any, headers: dict) -> tuple[int, Any, dict]:
        parts = path.strip("/").split("/")
        # api/StatisticSearch/KEY/json/kr/start/end/stat/cycle/from/to/item1[/item2..]
        if len(parts) < 12 or parts[:2] != ["api", "StatisticSearch"] or parts[3] != "json":
            return 200, _result("ERROR-310", "해당하는 서비스를 찾을 수 없습니다."), {}
        key, start, end, stat, cycle, t0, t1 = parts[2], parts[5], parts[6], parts[7], parts[8], parts[9], parts[10]
        items = tuple(parts[11:])
        self.calls[stat] += 1
        if key != self.api_key:
            return 200, _result("INFO-100"), {}
        if self.http_500_first.get(stat, 0) > 0:
            self.http_500_first[stat] -= 1
            return 500, b"<html>Internal Server Error</html>", {"Content-Type": "text/html"}
        if self.envelope_errors.get(stat):
            return 200, _result(self.envelope_errors[stat].pop(0)), {}
        if not (start.isdigit() and end.isdigit()):
            return 200, _result("ERROR-301", "조회건수 값의 타입이 유효하지 않습니다."), {}
        rows = [r for r in self.tables.get((stat, cycle, items), []) if t0 <= r["TIME"] <= t1]
        if stat in self.no_data or not rows:
            return 200, _result("INFO-200"), {}
        page = rows[int(start) - 1 : int(end)]
        return 200, {"StatisticSearch": {"list_total_count": len(rows), "row": page}}, {}


def _result(code: str, message: str | None = None) -> dict[str, Any]:
    return {"RESULT": {"CODE": code, "MESSAGE": message or MESSAGES.get(code, "")}}


__all__ = ["EcosFake", "bundled_tables", "render_rows"]
