"""Safe publishing: failed sources keep their products, disappeared ones are discontinued, not deleted."""

from __future__ import annotations

from datetime import date, datetime

from finray.products.model import ParseResult, Product, QuarantinedRecord, RateOption
from finray.products.publish import SourceFetch, plan_publish
from finray.stores.base import SourceStatus

SRC = "finlife:deposit"
NOW = datetime(2026, 11, 22, 3, 0)
EARLIER = date(2026, 10, 1)


def product(code: str, rate: float = 2.7, **kw: object) -> Product:
    # Hand-built parser-shaped products: values modelled on the bundled 우리은행 rows.
    return Product(
        product_id=f"deposit:0010001:{code}",
        product_type="deposit",
        source=SRC,
        provider="우리은행",
        provider_code="0010001",
        product_code=code,
        name=f"상품 {code}",
        rates=(RateOption(term_months=12, interest_type="단리", base_rate=rate, max_rate=rate),),
        disclosure_month="202607",
        **kw,
    )


def fetched(*products: Product, complete: bool = True, error: str | None = None) -> SourceFetch:
    return SourceFetch(SRC, ParseResult(products=list(products)), len(products), complete, error)


def test_failed_source_keeps_everything() -> None:
    existing = [product("A", first_seen=EARLIER), product("B", first_seen=EARLIER)]
    prev = SourceStatus(source=SRC, last_success_at=datetime(2026, 11, 21), active=2)
    plan = plan_publish(SRC, existing, fetched(complete=False, error="HTTP 500"), NOW, prev)
    assert plan.upserts == [] and plan.discontinue_ids == []
    assert plan.status.last_error == "HTTP 500"
    assert plan.status.last_success_at == datetime(2026, 11, 21)  # freshness not faked
    assert plan.status.active == 2


def test_unreached_and_empty_sources_keep_everything() -> None:
    existing = [product("A")]
    for fetch in (None, fetched()):
        plan = plan_publish(SRC, existing, fetch, NOW)
        assert plan.upserts == [] and plan.discontinue_ids == []
        assert plan.status.last_error


def test_complete_fetch_counts_new_changed_and_discontinues_missing() -> None:
    existing = [product("A", first_seen=EARLIER), product("B", first_seen=EARLIER), product("C")]
    q = QuarantinedRecord(source=SRC, key="x", reason="bad rate", raw={})
    fetch = SourceFetch(
        SRC, ParseResult(products=[product("A"), product("B", rate=3.1), product("D")], quarantined=[q]),
        fetched=4, complete=True,
    )
    plan = plan_publish(SRC, existing, fetch, NOW)
    by_id = {p.product_id: p for p in plan.upserts}
    assert plan.discontinue_ids == ["deposit:0010001:C"]
    assert by_id["deposit:0010001:C"].discontinued_on == NOW.date()
    assert by_id["deposit:0010001:A"].first_seen == EARLIER  # preserved
    assert by_id["deposit:0010001:A"].last_seen == NOW.date()
    assert by_id["deposit:0010001:D"].first_seen == NOW.date()
    s = plan.status
    assert (s.fetched, s.valid, s.quarantined, s.new, s.changed, s.discontinued, s.active) == (
        4, 3, 1, 1, 1, 1, 3,
    )
    assert s.last_success_at == NOW and s.last_error is None and s.disclosure_month == "202607"


def test_incomplete_fetch_updates_but_discontinues_nothing() -> None:
    existing = [product("A"), product("B")]
    plan = plan_publish(SRC, existing, fetched(product("A", rate=9.9), complete=False, error="page 2: timeout"), NOW)
    assert plan.discontinue_ids == []
    assert [p.product_id for p in plan.upserts] == ["deposit:0010001:A"]
    assert plan.status.changed == 1 and plan.status.last_error == "page 2: timeout"
    assert plan.status.last_success_at is None


def test_reappearing_product_is_reactivated() -> None:
    existing = [product("A", discontinued_on=EARLIER)]
    plan = plan_publish(SRC, existing, fetched(product("A")), NOW)
    assert plan.upserts[0].discontinued_on is None and plan.status.active == 1
    assert plan.status.changed == 1
