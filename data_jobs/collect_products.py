"""``collect_products``: fetch every product source in parallel, normalize, publish safely.

One Ray Data pipeline:

1. ``expand`` — one row per (finlife endpoint × 금융권역) plus the fund source; in live mode it
   fetches page 1 to learn ``max_page_no`` and emits one row per page (page 1 carries its payload).
2. ``fetch`` — fetches the remaining pages concurrently (capped per host by ``concurrency``).
3. ``parse`` — the same parser for live pages and bundled snapshot data → products + quarantine.

The driver then groups results by source and applies :func:`plan_publish` (a failed source keeps
its products; a complete fetch discontinues what disappeared).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import ray

from data_jobs.runtime import JobResult, ensure_ray, timed
from finray.config import Settings, load_settings
from finray.products.finlife import ENDPOINTS, parse_finlife
from finray.products.model import ParseResult, Product, QuarantinedRecord
from finray.products.publish import SourceFetch, plan_publish
from finray.products.snapshot import SNAPSHOT_FILES, load_snapshot
from finray.sources.finlife_api import (
    FIN_GROUP_CODES,
    FINLIFE_ENDPOINTS,
    FinlifePage,
    fetch_page,
    parse_envelope,
)
from finray.sources.http import FetchError
from finray.stores.factory import open_store

FUND_SOURCE = "funds:kb"


def source_of_endpoint(endpoint: str) -> str:
    return f"finlife:{ENDPOINTS[endpoint].value}"


# --- pipeline stages (plain functions of one row, so they run the same in tests) -------------
def _page_row(endpoint: str, group: str, page_no: int, payload: dict | None = None, error: str | None = None) -> dict[str, Any]:
    return {
        "kind": "finlife",
        "source": source_of_endpoint(endpoint),
        "endpoint": endpoint,
        "group": group,
        "page_no": page_no,
        "payload": json.dumps(payload, ensure_ascii=False) if payload is not None else "",
        "error": error or "",
    }


def expand(row: dict[str, Any], settings: Settings) -> list[dict[str, Any]]:
    """Turn a (source, group) request into page rows; page 1 is fetched here in live mode."""
    if row["kind"] != "finlife":
        return [{**row, "page_no": 1, "payload": "", "error": "", "endpoint": "", "group": ""}]
    endpoint, group = row["endpoint"], row["group"]
    try:
        first = _fetch(settings, endpoint, group, 1)
    except FetchError as exc:
        return [_page_row(endpoint, group, 1, error=str(exc))]
    rows = [_page_row(endpoint, group, 1, payload=_as_payload(first))]
    rows += [_page_row(endpoint, group, n) for n in range(2, first.max_page_no + 1)]
    return rows


def fetch(row: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Fetch a page that has no payload yet; errors become data, never exceptions."""
    if row["kind"] != "finlife" or row["payload"] or row["error"]:
        return row
    try:
        page = _fetch(settings, row["endpoint"], row["group"], int(row["page_no"]))
    except FetchError as exc:
        return {**row, "error": str(exc)}
    return {**row, "payload": json.dumps(_as_payload(page), ensure_ascii=False)}


def parse(row: dict[str, Any], seen_on: date) -> dict[str, Any]:
    """Normalize one page (or a whole snapshot/fund source) to products and quarantine."""
    fetched = 0
    result = ParseResult()
    if row["error"]:
        pass
    elif row["kind"] == "finlife":
        page = parse_envelope(json.loads(row["payload"]), row["endpoint"], row["group"], row["page_no"])
        fetched = len(page.base_list)
        result = parse_finlife(
            page.endpoint, page.base_list, page.option_list,
            top_fin_grp_no=page.top_fin_grp_no, seen_on=seen_on,
        )
    else:  # a bundled source, parsed by the same parsers inside load_snapshot
        result = load_snapshot(seen_on=seen_on, sources=[row["source"]])[row["source"]]
        fetched = len(result.products) + len(result.quarantined)
    return {
        "source": row["source"],
        "error": row["error"],
        "fetched": fetched,
        "products": json.dumps([p.model_dump(mode="json") for p in result.products], ensure_ascii=False),
        "quarantined": json.dumps([q.model_dump(mode="json") for q in result.quarantined], ensure_ascii=False),
    }


def _fetch(settings: Settings, endpoint: str, group: str, page_no: int) -> FinlifePage:
    assert settings.finlife_api_key, "live mode requires FINLIFE_API_KEY"
    return fetch_page(
        settings.finlife_base_url, settings.finlife_api_key, endpoint, group, page_no,
        timeout_s=settings.http_timeout_s, retries=settings.http_retries,
        per_host_concurrency=settings.http_concurrency_per_host,
    )


def _as_payload(page: FinlifePage) -> dict[str, Any]:
    return {"result": {"err_cd": "000", "err_msg": "정상", "total_count": page.total_count,
                       "max_page_no": page.max_page_no, "now_page_no": page.page_no,
                       "baseList": page.base_list, "optionList": page.option_list}}


def requests_for(settings: Settings, sources: list[str] | None = None) -> list[dict[str, Any]]:
    """The first-stage rows: every endpoint × 금융권역 in live mode; bundled sources otherwise.

    ``sources`` (e.g. ``["finlife:deposit", "funds:kb"]``) narrows the run; an unknown name is an
    error naming the known ones, so a typo never silently collects nothing.
    """
    if settings.product_source == "live":
        rows = [
            {"kind": "finlife", "source": source_of_endpoint(e), "endpoint": e, "group": g}
            for e in FINLIFE_ENDPOINTS for g in FIN_GROUP_CODES
        ]
        # No recorded data.go.kr fund response exists to build a client against; funds come from
        # the bundled catalogue in both modes (status says so via the source name).
        rows += [{"kind": "bundled", "source": FUND_SOURCE, "endpoint": "", "group": ""}]
    else:
        rows = [
            {"kind": "bundled", "source": s, "endpoint": "", "group": ""}
            for s in sorted(SNAPSHOT_FILES)
        ]
    if sources is None:
        return rows
    known = sorted({r["source"] for r in rows})
    unknown = sorted(set(sources) - set(known))
    if unknown:
        raise ValueError(
            f"unknown source(s) {', '.join(unknown)} for {settings.product_source} mode; "
            f"known: {', '.join(known)}"
        )
    return [r for r in rows if r["source"] in sources]


# --- driver -----------------------------------------------------------------------------------
def gather(rows: list[dict[str, Any]]) -> dict[str, SourceFetch]:
    """Merge parsed pages into one SourceFetch per source."""
    products: defaultdict[str, list[Product]] = defaultdict(list)
    quarantined: defaultdict[str, list[QuarantinedRecord]] = defaultdict(list)
    fetched: defaultdict[str, int] = defaultdict(int)
    errors: defaultdict[str, list[str]] = defaultdict(list)
    for r in rows:
        src = r["source"]
        fetched[src] += int(r["fetched"])
        products[src] += [Product.model_validate(p) for p in json.loads(r["products"])]
        quarantined[src] += [QuarantinedRecord.model_validate(q) for q in json.loads(r["quarantined"])]
        if r["error"]:
            errors[src].append(r["error"])
    return {
        src: SourceFetch(
            source=src,
            result=ParseResult(products=products[src], quarantined=quarantined[src]),
            fetched=fetched[src],
            complete=not errors[src],
            error=errors[src][0] if errors[src] else None,
        )
        for src in fetched.keys() | errors.keys()
    }


def run(
    settings: Settings | None = None, now: datetime | None = None, sources: list[str] | None = None
) -> JobResult:
    """Collect every source (or only ``sources``) and publish each one safely."""
    settings = settings or load_settings()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    requests = requests_for(settings, sources)
    result = JobResult(job="collect_products")
    with timed(result):
        ensure_ray()
        # At most `cap` fetching tasks at once across the cluster (the polite per-host cap).
        cap = ray.data.TaskPoolStrategy(size=settings.http_concurrency_per_host)
        ds = (
            ray.data.from_items(requests, override_num_blocks=len(requests))
            .flat_map(expand, fn_kwargs={"settings": settings}, compute=cap)
            .map(fetch, fn_kwargs={"settings": settings}, compute=cap)
            .map(parse, fn_kwargs={"seen_on": now.date()})
        )
        fetches = gather(ds.take_all())
        store = open_store(settings)
        try:
            result.error = publish_all(store, fetches, now, result)
            store.compact()
        finally:
            store.close()
    return result


def publish_all(store: Any, fetches: dict[str, SourceFetch], now: datetime, result: JobResult) -> str | None:
    """Apply safe publishing per source; return the first source error (for the exit status)."""
    previous = {s.source: s for s in store.source_statuses()}
    catalogue = store.catalogue()
    by_source: defaultdict[str, list[Product]] = defaultdict(list)
    for p in catalogue:
        by_source[p.source].append(p)
    first_error = None
    totals: defaultdict[str, int] = defaultdict(int)
    for src in sorted(fetches.keys() | by_source.keys()):
        fetch_ = fetches.get(src)
        if fetch_ is None:
            continue  # a source this run did not ask for (e.g. live-only loans in snapshot mode)
        plan = plan_publish(src, by_source[src], fetch_, now, previous.get(src))
        if plan.upserts:
            store.upsert_catalogue(plan.upserts)
        if plan.discontinue_ids:
            store.set_products_discontinued(plan.discontinue_ids, now.date())
        assert plan.status is not None
        store.put_source_status(plan.status)
        st = plan.status
        result.details.append(st.model_dump(mode="json"))
        for k in ("fetched", "valid", "quarantined", "new", "changed", "discontinued", "active"):
            totals[k] += getattr(st, k)
        if st.last_error and first_error is None:
            first_error = f"{src}: {st.last_error}"
    result.counts = dict(totals)
    result.records = totals["valid"]
    return first_error
