"""``collect_indicators``: fetch the RiskXpert indicators and write one monthly series each.

One Ray Data pipeline, one row per indicator:

* **live** — ECOS ``StatisticSearch`` via :mod:`finray.indicators.ecos_api` (paged, retried,
  key redacted), rows → :class:`Observations` → :func:`normalize_monthly`;
* **snapshot** (default) — the bundled files → the same :func:`normalize_monthly`.

The driver writes ``<home>/indicators/<key>.csv`` (``month,value``; empty value = gap month) and
``manifest.json`` (source, span, usable span, fetched_at, last error). Writes are atomic (temp
file + rename). An indicator whose fetch failed keeps its previous file and manifest entry,
with the error and attempt time added, so one bad series never erases a good one.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ray

from data_jobs.runtime import JobResult, ensure_ray, timed
from finray.config import Settings, load_settings
from finray.indicators.ecos_api import fetch_series
from finray.indicators.series import (
    INDICATORS,
    collected_dir,
    load_bundled_observations,
    normalize_monthly,
    observations_from_rows,
    series_to_csv,
    usable_history,
)
from finray.sources.http import FetchError

MANIFEST = "manifest.json"


def indicator_source(settings: Settings, override: str | None = None) -> str:
    """``live`` or ``snapshot``: the argument, else ``FINRAY_INDICATOR_SOURCE`` (settings)."""
    mode = override or settings.indicator_source
    if mode not in ("live", "snapshot"):
        raise ValueError(f"FINRAY_INDICATOR_SOURCE: expected 'snapshot' or 'live', got {mode!r}")
    return mode


# --- pipeline stage (a plain function of one row, so it runs the same in tests) ---------------
def collect(row: dict[str, Any], settings: Settings, today: date, page_size: int = 1000) -> dict[str, Any]:
    """Fetch and normalize one indicator; errors become data, never exceptions."""
    key, mode = row["key"], row["mode"]
    ind = INDICATORS[key]
    out: dict[str, Any] = {"key": key, "mode": mode, "source": "", "error": "", "csv": ""}
    try:
        if mode == "live":
            if not settings.ecos_api_key:
                raise FetchError("ECOS_API_KEY: required for FINRAY_INDICATOR_SOURCE=live")
            q = ind.ecos
            end = today.strftime("%Y%m") if q.cycle == "M" else today.strftime("%Y%m%d")
            rows = fetch_series(
                settings.ecos_base_url, settings.ecos_api_key, q, q.start, end,
                page_size=page_size, timeout_s=settings.http_timeout_s,
                retries=settings.http_retries, per_host_concurrency=settings.http_concurrency_per_host,
                backoff_s=float(row.get("backoff_s", 0.5)),
            )
            segments = [observations_from_rows(rows, q.cycle, f"ecos:{q.stat_code}", as_of=today)]
            out["source"] = f"ecos:{q.stat_code}/{q.cycle}/{'/'.join(q.item_codes)}"
        else:
            segments = load_bundled_observations(key)
            out["source"] = "bundled:" + "+".join(s.source.removeprefix("bundled:") for s in segments)
        series = normalize_monthly(ind, segments)
        if series.dropna().empty:
            raise FetchError(f"{key}: no values after normalization")
        out["csv"] = series_to_csv(series)
    except (FetchError, ValueError) as exc:
        out["error"] = str(exc)
    return out


# --- driver ------------------------------------------------------------------------------------
def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_manifest(home: Path) -> dict[str, Any]:
    path = collected_dir(home) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def publish(home: Path, results: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """Write successful series, keep failed ones' previous files; return the new manifest."""
    from finray.indicators.series import series_from_csv

    manifest = read_manifest(home)
    stamp = now.isoformat(timespec="seconds")
    for r in sorted(results, key=lambda r: r["key"]):
        key = r["key"]
        prev = manifest.get(key, {})
        if r["error"]:
            manifest[key] = {**prev, "last_error": r["error"], "last_attempt_at": stamp,
                             "status": "stale" if prev.get("file") else "missing"}
            continue
        series = series_from_csv(r["csv"], key)
        usable = usable_history(series)
        _atomic_write(collected_dir(home) / f"{key}.csv", r["csv"])
        manifest[key] = {
            "name_ko": INDICATORS[key].name_ko, "unit": INDICATORS[key].unit,
            "source": r["source"], "mode": r["mode"], "status": "ok", "file": f"{key}.csv",
            "start": str(series.index[0]), "end": str(series.index[-1]),
            "months": int(series.notna().sum()), "missing_months": int(series.isna().sum()),
            "usable_start": str(usable.index[0]), "usable_end": str(usable.index[-1]),
            "fetched_at": stamp, "last_attempt_at": stamp, "last_error": None,
        }
    _atomic_write(collected_dir(home) / MANIFEST,
                  json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    return manifest


def run(
    settings: Settings | None = None,
    *,
    source: str | None = None,
    indicators: list[str] | None = None,
    now: datetime | None = None,
    page_size: int = 1000,
    backoff_s: float = 0.5,
) -> JobResult:
    settings = settings or load_settings()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    mode = indicator_source(settings, source)
    keys = indicators or list(INDICATORS)
    unknown = [k for k in keys if k not in INDICATORS]
    if unknown:
        raise ValueError(f"unknown indicator(s) {unknown}; known: {', '.join(INDICATORS)}")
    result = JobResult(job="collect_indicators")
    with timed(result):
        ensure_ray()
        rows = [{"key": k, "mode": mode, "backoff_s": backoff_s} for k in keys]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map(
            collect,
            fn_kwargs={"settings": settings, "today": now.date(), "page_size": page_size},
            compute=ray.data.TaskPoolStrategy(size=min(len(rows), settings.http_concurrency_per_host)),
        )
        results = ds.take_all()
        manifest = publish(Path(settings.home), results, now)
        failed = [r for r in results if r["error"]]
        result.counts = {"ok": len(results) - len(failed), "failed": len(failed)}
        result.records = len(results) - len(failed)
        result.details = [{"indicator": k, **manifest.get(k, {})} for k in keys]
        if failed:
            result.error = "; ".join(f"{r['key']}: {r['error']}" for r in failed)
    return result
