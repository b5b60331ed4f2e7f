"""Safe publishing of one source's fetch into the catalogue.

Rules (why: a flaky public API must never empty the product catalogue customers see):

* A source whose fetch failed, or that returned no products, changes nothing: its existing
  products stay as they are and only its status records the error.
* A *complete* successful fetch marks products that disappeared as discontinued (with the date);
  nothing is ever deleted. An incomplete fetch (some pages failed) adds and updates what it got
  but discontinues nothing, since a missing product may simply sit on a failed page.
* ``first_seen`` survives updates; ``last_seen`` moves to the run date for every product seen.

:func:`plan_publish` is a pure function so these rules are tested without any store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from finray.products.model import ParseResult, Product
from finray.stores.base import SourceStatus


@dataclass(frozen=True)
class SourceFetch:
    """What one collection run got for one source."""

    source: str
    result: ParseResult
    fetched: int  # raw product rows received (before validation)
    complete: bool  # every page/request of the source succeeded
    error: str | None = None  # first failure, if any


@dataclass
class PublishPlan:
    upserts: list[Product] = field(default_factory=list)
    discontinue_ids: list[str] = field(default_factory=list)
    status: SourceStatus | None = None


def plan_publish(
    source: str,
    existing: list[Product],
    fetch: SourceFetch | None,
    now: datetime,
    previous: SourceStatus | None = None,
) -> PublishPlan:
    """Decide what to write for ``source``; ``fetch`` None means the source was not reached."""
    today = now.date()
    prev = previous or SourceStatus(source=source)
    current = {p.product_id: p for p in existing}
    active_before = sum(1 for p in existing if p.is_active)

    got = fetch.result.products if fetch else []
    if fetch is None or not got:
        reason = (fetch.error if fetch else None) or "fetch returned no products"
        status = prev.model_copy(
            update={
                "last_run_at": now,
                "last_error": reason,
                "fetched": fetch.fetched if fetch else 0,
                "valid": 0,
                "quarantined": len(fetch.result.quarantined) if fetch else 0,
                "new": 0,
                "changed": 0,
                "discontinued": 0,
                "active": active_before,
            }
        )
        return PublishPlan(status=status)

    upserts: list[Product] = []
    new = changed = 0
    seen: set[str] = set()
    for product in _dedupe(got):
        seen.add(product.product_id)
        old = current.get(product.product_id)
        if old is None:
            new += 1
            first_seen = today
        else:
            first_seen = old.first_seen or today
            if old.content_hash != product.content_hash or not old.is_active:
                changed += 1
        upserts.append(
            product.model_copy(
                update={"first_seen": first_seen, "last_seen": today, "discontinued_on": None}
            )
        )

    discontinue: list[str] = []
    if fetch.complete:
        for pid, old in current.items():
            if pid not in seen and old.is_active:
                discontinue.append(pid)
                upserts.append(old.model_copy(update={"discontinued_on": today}))

    months = sorted({p.disclosure_month for p in got if p.disclosure_month})
    status = SourceStatus(
        source=source,
        last_run_at=now,
        last_success_at=now if fetch.complete else prev.last_success_at,
        last_error=None if fetch.complete else fetch.error,
        disclosure_month=months[-1] if months else prev.disclosure_month,
        fetched=fetch.fetched,
        valid=len(got),
        quarantined=len(fetch.result.quarantined),
        new=new,
        changed=changed,
        discontinued=len(discontinue),
        active=active_before + new - len(discontinue) + _reactivated(current, seen),
    )
    return PublishPlan(upserts=upserts, discontinue_ids=discontinue, status=status)


def _dedupe(products: list[Product]) -> list[Product]:
    """One product per id; a later page repeating an id replaces the earlier row."""
    return list({p.product_id: p for p in products}.values())


def _reactivated(current: dict[str, Product], seen: set[str]) -> int:
    return sum(1 for pid in seen if pid in current and not current[pid].is_active)
