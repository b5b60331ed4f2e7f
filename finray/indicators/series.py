"""The five RiskXpert indicators and how each becomes one **monthly** series.

Every series is monthly because the slowest indicators (기준금리, CPI) are monthly and the
forecast horizons are months (1, 3, 6, 12). Daily sources are reduced to one value per month
with the aggregation ECOS itself uses for the corresponding monthly table, so a live ECOS pull
and the bundled snapshot give the same definition:

* a **level that is set** (기준금리) or a **price at a date** (KOSPI) → the month's last value
  (ECOS 722Y001 M reports the rate in force at month end — checked against the recorded ECOS
  response for 2011-01..10 in ``tests/test_ecos.py``);
* a **market average** (국고채 3년, 원/달러) → the mean over the month's weekdays (ECOS's monthly
  market-rate and FX tables are averages of business days; the bundled ktb3y file forward-fills
  weekends, which the weekday filter drops — ECOS daily data has no weekend rows, so the filter
  is a no-op for live data).

The final month of a daily source counts only if the source had seen the month end (``as_of``,
the first date the data could not cover, is after it): a half month would bias both the
month-end close and the average.

Monthly series built from the bundled files (``finray/bundled/indicators``, see SOURCES.md):

=========  ===================================================  ==============  ===============================
key        files → monthly value                                span            forecast history (no gaps)
=========  ===================================================  ==============  ===============================
base_rate  daily 2005-05-01..2017-12-31 → month end;            2005-05..       2019-01..2025-12 (84 months):
           ECOS web export 2019/01..2025/12 (monthly, as is)    2025-12         **2018 is missing** in every
                                                                (gap 2018)      bundled file, so it stays NaN
usd_krw    ECOS 원/달러 monthly average 2019-01..2025-12 (as is) 2019-01..       84 months
                                                                2025-12
kospi      daily close (investing.com-derived) 1996-01-03..     1996-01..       364 months; 2026-05 dropped
           2026-05-27 → month-end close                         2026-04         (file ends 05-27, month open)
ktb3y      daily 2001-01-01..2018-05-29 → weekday mean          2001-01..       208 months; **ends 2018-04**:
                                                                2018-04         no later 국고채 3년 file exists
                                                                                in the shared drop
cpi        ECOS export 4.2.1 총지수 2014/01..2025/01 + KOSIS-    2014-01..       144 months (the 73 overlapping
           style 총지수 2019-01..2025-12 (overlap must agree)    2025-12         months are checked equal)
=========  ===================================================  ==============  ===============================

Other definitions were on offer and deliberately not mixed in: investing.com monthly closes of
USD/KRW and KOSPI (a month-end close is not ECOS's monthly average for FX), yfinance daily KRW=X
(2020–2024 only, a different fixing). Splicing different definitions would create breaks the
models would learn as signal.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

Cycle = Literal["M", "D"]
Aggregation = Literal["last", "mean"]
TransformKind = Literal["diff", "logret"]


@dataclass(frozen=True)
class EcosQuery:
    """Where the indicator lives in ECOS ``StatisticSearch`` (table, cycle, item codes)."""

    stat_code: str
    cycle: Cycle
    item_codes: tuple[str, ...]
    start: str  # first period asked for: YYYYMM (M) or YYYYMMDD (D)


@dataclass(frozen=True)
class Indicator:
    """One forecast target: what it is, where ECOS has it, and how it is modelled."""

    key: str
    name_ko: str
    unit: str
    ecos: EcosQuery
    aggregation: Aggregation  # daily → monthly
    transform: TransformKind  # rates: differences; prices/indices: log-returns
    decimals: int  # source precision; levels are rounded to it when rebuilt
    description: str


INDICATORS: dict[str, Indicator] = {
    "base_rate": Indicator(
        "base_rate", "한국은행 기준금리", "연%",
        EcosQuery("722Y001", "M", ("0101000",), "200001"),
        "last", "diff", 2, "Bank of Korea policy rate in force at month end",
    ),
    "usd_krw": Indicator(
        "usd_krw", "원/달러 환율", "원",
        # 731Y004 item 0000001 (원/미국달러 매매기준율) × item2 0000100 (평균자료) is the monthly
        # average the bundled ECOS export holds; 0000200 would be the month-end 말일자료. The
        # daily table 731Y001/0000001 averaged per month is the same definition.
        EcosQuery("731Y004", "M", ("0000001", "0000100"), "200001"),
        "mean", "logret", 2, "KRW per USD, monthly average of daily 매매기준율",
    ),
    "kospi": Indicator(
        "kospi", "KOSPI", "pt",
        EcosQuery("802Y001", "D", ("0001000",), "19960101"),
        "last", "logret", 2, "KOSPI composite index, month-end close",
    ),
    "ktb3y": Indicator(
        "ktb3y", "국고채 3년", "연%",
        EcosQuery("817Y002", "D", ("010200000",), "20010101"),
        "mean", "diff", 3, "3-year Korea Treasury Bond yield, monthly mean of business days",
    ),
    "cpi": Indicator(
        "cpi", "소비자물가지수", "2020=100",
        EcosQuery("901Y009", "M", ("0",), "200001"),
        "last", "logret", 3, "Consumer price index, all items (총지수), 2020=100",
    ),
}


@dataclass(frozen=True)
class Observations:
    """Raw values at their native cycle, before monthly normalization.

    ``as_of`` is the first date the source could not have covered (fetch date, or the day after
    a file's last row); a month that had not ended before it is incomplete and dropped.
    """

    cycle: Cycle
    values: pd.Series  # DatetimeIndex (period start for M, the day for D) → float
    source: str
    as_of: date | None = None


# --- normalization (shared by live ECOS rows and bundled files) -------------------------------
def normalize_monthly(indicator: Indicator, segments: list[Observations]) -> pd.Series:
    """One float per calendar month (``PeriodIndex`` freq M), NaN where no segment has data.

    Segments may overlap only if they agree (a splice of two copies of the same ECOS series);
    a disagreement means two definitions and raises instead of silently picking one.
    """
    parts: list[pd.Series] = []
    for seg in segments:
        monthly = _to_monthly(seg, indicator.aggregation, indicator.decimals).dropna()
        for prev in parts:
            common = prev.index.intersection(monthly.index)
            if len(common):
                diff = np.abs(prev.loc[common].to_numpy() - monthly.loc[common].to_numpy())
                tol = 0.5 * 10 ** (-indicator.decimals) + 1e-9
                if (diff > tol).any():
                    bad = common[int(np.argmax(diff))]
                    raise ValueError(
                        f"{indicator.key}: sources disagree at {bad} "
                        f"({prev.loc[bad]} vs {monthly.loc[bad]}); refusing to splice"
                    )
        parts.append(monthly)
    if not parts or all(p.empty for p in parts):
        return pd.Series(dtype=float, index=pd.PeriodIndex([], freq="M"), name=indicator.key)
    merged = pd.concat(parts)
    merged = merged[~merged.index.duplicated(keep="last")].sort_index()
    full = pd.period_range(merged.index.min(), merged.index.max(), freq="M")
    return merged.reindex(full).astype(float).rename(indicator.key)


def _to_monthly(obs: Observations, how: Aggregation, decimals: int) -> pd.Series:
    """Monthly values of one segment; averages are rounded to the source precision, as ECOS
    publishes its monthly averages."""
    s = obs.values.dropna().astype(float).sort_index()
    s.index = pd.DatetimeIndex(s.index)
    if obs.cycle == "M":
        out = s.copy()
        out.index = s.index.to_period("M")
        out = out[~out.index.duplicated(keep="last")]
    else:
        if how == "mean":
            s = s[s.index.dayofweek < 5]
            out = s.groupby(s.index.to_period("M")).mean().round(decimals)
        else:
            out = s.groupby(s.index.to_period("M")).last()
    if obs.as_of is not None and len(out):
        as_of = pd.Timestamp(obs.as_of)
        ended = [p.end_time.normalize() < as_of for p in out.index]
        out = out[np.asarray(ended, dtype=bool)]
    return out


def usable_history(series: pd.Series) -> pd.Series:
    """The longest gap-free run at the end of ``series`` — what the models are fitted on.

    Models need evenly spaced months; a gap (base_rate's 2018) cannot be bridged without
    inventing values, so the history before it is not used.
    """
    s = series.copy()
    while len(s) and np.isnan(s.iloc[-1]):
        s = s.iloc[:-1]
    missing = np.flatnonzero(np.isnan(s.to_numpy(dtype=float)))
    return s.iloc[missing[-1] + 1 :] if len(missing) else s


# --- bundled files -----------------------------------------------------------------------------
def bundled_dir() -> Path:
    return Path(str(resources.files("finray") / "bundled" / "indicators"))


def _read(name: str) -> str:
    return (bundled_dir() / name).read_text(encoding="utf-8-sig")


def _num(text: str) -> float:
    return float(text.replace(",", "").strip())


def _daily_csv(name: str, column: str) -> Observations:
    rows = list(csv.DictReader(io.StringIO(_read(name))))
    idx = pd.DatetimeIndex([r["date" if "date" in r else "날짜"] for r in rows])
    values = pd.Series([_num(r[column]) for r in rows], index=idx)
    return Observations("D", values, f"bundled:{name}", as_of=(idx.max() + timedelta(days=1)).date())


def _monthly_long_csv(name: str) -> Observations:
    """Two-column exports (``"2019-01","1,122.00"``) with a one-line header."""
    rows = list(csv.reader(io.StringIO(_read(name))))[1:]
    idx = pd.DatetimeIndex([pd.Timestamp(r[0] + "-01") for r in rows if r])
    return Observations("M", pd.Series([_num(r[1]) for r in rows if r], index=idx), f"bundled:{name}")


def _ecos_wide_csv(name: str, item: str | None = None) -> Observations:
    """ECOS web exports: period columns ``YYYY/MM``; the row whose 계정항목 is ``item`` (or the first)."""
    rows = list(csv.reader(io.StringIO(_read(name))))
    header = rows[0]
    first = next(i for i, h in enumerate(header) if len(h) == 7 and h[4] == "/")
    row = next(r for r in rows[1:] if item is None or r[1].strip() == item)
    idx = pd.DatetimeIndex([pd.Timestamp(h.replace("/", "-") + "-01") for h in header[first:]])
    vals = [_num(v) if v.strip() else np.nan for v in row[first:]]
    return Observations("M", pd.Series(vals, index=idx), f"bundled:{name}")


def load_bundled_observations(key: str) -> list[Observations]:
    """The bundled raw observations of one indicator, oldest segment first."""
    if key == "base_rate":
        return [
            _daily_csv("base_rate_daily_20050501_20171231.csv", "금리"),
            _ecos_wide_csv("ecos_base_rate_monthly_201901_202512_wide.csv"),
        ]
    if key == "usd_krw":
        return [_monthly_long_csv("krw_usd_monthly_201901_202512.csv")]
    if key == "kospi":
        return [_daily_csv("kospi_daily_close_19960103_20260527.csv", "close")]
    if key == "ktb3y":
        return [_daily_csv("ktb3y_yield_daily_20010101_20180529.csv", "kbill_3y")]
    if key == "cpi":
        return [
            _ecos_wide_csv("ecos_cpi_4.2.1_all_items_monthly_201401_202501.csv", item="총지수"),
            _monthly_long_csv("cpi_total_monthly_201901_202512.csv"),
        ]
    raise KeyError(f"unknown indicator {key!r}; known: {', '.join(INDICATORS)}")


def load_bundled(key: str) -> pd.Series:
    """The normalized monthly series of one indicator from the bundled files."""
    return normalize_monthly(INDICATORS[key], load_bundled_observations(key))


def recorded_ecos_response(name: str = "ecos_statisticsearch_722Y001_0101000_M_201101_201110.json") -> dict:
    """A real recorded ECOS ``StatisticSearch`` response (for fakes and consistency checks)."""
    return json.loads(_read(name))


def ecos_time(period: pd.Timestamp, cycle: Cycle) -> str:
    """ECOS ``TIME`` field for a date: ``YYYYMM`` (M) or ``YYYYMMDD`` (D)."""
    return period.strftime("%Y%m") if cycle == "M" else period.strftime("%Y%m%d")


def parse_ecos_time(text: str, cycle: Cycle) -> pd.Timestamp:
    return pd.Timestamp(date(int(text[:4]), int(text[4:6]), int(text[6:8]) if cycle == "D" else 1))


def observations_from_rows(rows: list[dict], cycle: Cycle, source: str, as_of: date | None) -> Observations:
    """ECOS ``row`` dicts → :class:`Observations` (blank or non-numeric DATA_VALUE dropped)."""
    idx: list[pd.Timestamp] = []
    vals: list[float] = []
    for r in rows:
        raw = str(r.get("DATA_VALUE") or "").replace(",", "").strip()
        try:
            v = float(raw)
        except ValueError:
            continue
        idx.append(parse_ecos_time(str(r["TIME"]), cycle))
        vals.append(v)
    return Observations(cycle, pd.Series(vals, index=pd.DatetimeIndex(idx), dtype=float), source, as_of)


# --- collected series on disk (written by data_jobs.collect_indicators) -------------------------
def series_to_csv(series: pd.Series) -> str:
    """``month,value`` lines (empty value for a gap month) — diff-friendly and exact."""
    lines = ["month,value"]
    for m, v in series.items():
        lines.append(f"{m},{'' if np.isnan(v) else repr(float(v))}")
    return "\n".join(lines) + "\n"


def series_from_csv(text: str, name: str | None = None) -> pd.Series:
    rows = [line.split(",") for line in text.strip().splitlines()[1:]]
    idx = pd.PeriodIndex([r[0] for r in rows], freq="M")
    vals = [float(r[1]) if r[1] else np.nan for r in rows]
    return pd.Series(vals, index=idx, dtype=float, name=name)


def collected_dir(home: Path) -> Path:
    return Path(home) / "indicators"


def load_collected(home: Path, key: str) -> pd.Series | None:
    """The series ``collect_indicators`` wrote under ``home``, or None if it has not run."""
    path = collected_dir(home) / f"{key}.csv"
    return series_from_csv(path.read_text(encoding="utf-8"), key) if path.exists() else None
