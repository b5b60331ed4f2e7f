"""collect_products end to end: live path against the finlife replay server, and snapshot mode."""

from __future__ import annotations

from datetime import datetime

import pytest

from data_jobs import collect_products
from finray.stores.factory import open_store
from tests.fakes.finlife import VALID_KEY, Faults, FinlifeReplay

pytestmark = pytest.mark.usefixtures("ray_session")

DEP, SAV = "depositProductsSearch", "savingProductsSearch"
BANK = "020000"


def live(make_settings, server: FinlifeReplay, key: str = VALID_KEY):
    return make_settings(
        FINRAY_PRODUCT_SOURCE="live", FINLIFE_API_KEY=key, FINLIFE_BASE_URL=server.base_url,
        FINRAY_HTTP_TIMEOUT_S="1.0", FINRAY_HTTP_RETRIES="2",
    )


def test_live_collects_every_page_of_every_endpoint(make_settings) -> None:
    with FinlifeReplay(page_size=10) as server:
        settings = live(make_settings, server)
        result = collect_products.run(settings, now=datetime(2026, 11, 22, 3))
        asked = {(r["path"].rsplit("/", 1)[-1], r["query"]["topFinGrpNo"][0]) for r in server.server.requests}
    # 6 endpoints x 5 금융권역 asked; deposit (38 rows) and saving (58) come back in 4 and 6 pages
    assert len(asked) == 30
    assert server.attempts(DEP, BANK, 4) == 1 and server.attempts(SAV, BANK, 6) == 1
    assert server.attempts(DEP, BANK, 5) == 0
    by_source = {d["source"]: d for d in result.details}
    assert by_source["finlife:deposit"]["valid"] == 38 and by_source["finlife:deposit"]["new"] == 38
    assert by_source["finlife:saving"]["valid"] == 58
    assert by_source["finlife:deposit"]["disclosure_month"] == "202607"
    store = open_store(settings)
    cat = store.catalogue(source="finlife:deposit")
    won = next(p for p in cat if p.product_code == "WR0001B")
    assert won.provider == "우리은행" and 12 in won.terms
    # every endpoint family parses through the live path: 연금저축 from 보험 and 금융투자 pages,
    # 신용대출 with its credit-grade rate rows; mortgage/전세 have no recorded rows: an endpoint
    # that answers nothing in every 금융권역 is reported (and publishes nothing), never silent
    assert by_source["finlife:annuity"]["valid"] == 90 and by_source["finlife:annuity"]["quarantined"] == 0
    assert by_source["finlife:credit_loan"]["valid"] == 8 and by_source["finlife:credit_loan"]["quarantined"] == 0
    for empty in ("finlife:mortgage_loan", "finlife:rent_loan"):
        assert by_source[empty]["fetched"] == 0 and by_source[empty]["last_error"] == "fetch returned no products"
    assert "returned no products" in result.error
    loans = store.catalogue(source="finlife:credit_loan")
    assert all(p.rates and p.product_type.value == "credit_loan" for p in loans)
    pension = store.catalogue(source="finlife:annuity")
    assert {p.fin_group for p in pension} == {"050000", "060000"}
    assert all(p.guaranteed_rate_text for p in pension if p.category and "보험" in p.category)


def test_error_envelope_timeout_500_and_malformed(make_settings) -> None:
    faults = Faults(
        envelope={("creditLoanProductsSearch", BANK): ("020", "일일검색 허용횟수 초과")},
        slow={(SAV, BANK, 3): 3.0},  # beyond the 1 s timeout on every attempt
        http_500={(DEP, BANK, 2): 1},  # fails once, then the retry succeeds
        malformed={(DEP, BANK, 1): [{"fin_co_no": "0010001", "fin_prdt_cd": "BAD1", "kor_co_nm": "우리은행",
                                      "dcls_month": "2026-07", "fin_prdt_nm": "깨진 상품"}]},
    )
    with FinlifeReplay(page_size=10, faults=faults) as server:
        settings = live(make_settings, server)
        result = collect_products.run(settings, now=datetime(2026, 11, 22, 3))
        assert server.attempts(DEP, BANK, 2) == 2  # retried after the 500
    by_source = {d["source"]: d for d in result.details}
    dep = by_source["finlife:deposit"]
    assert dep["valid"] == 38 and dep["quarantined"] == 1 and dep["last_error"] is None
    sav = by_source["finlife:saving"]
    assert "timed out" in sav["last_error"] and sav["valid"] == 48  # page 3 of 6 lost, rest kept
    loan = by_source["finlife:credit_loan"]
    assert "daily request limit exceeded" in loan["last_error"]
    assert result.error  # the CLI exits non-zero


def test_invalid_key_fails_clearly_and_keeps_catalogue(make_settings) -> None:
    with FinlifeReplay() as server:
        settings = live(make_settings, server)
        collect_products.run(settings, now=datetime(2026, 11, 21, 3))
        bad = live(make_settings, server, key="wrong-key")
        result = collect_products.run(bad, now=datetime(2026, 11, 22, 3))
    assert "invalid API key" in result.error
    store = open_store(settings)
    assert len([p for p in store.catalogue(source="finlife:deposit") if p.is_active]) == 38


def test_disappeared_products_are_discontinued_not_deleted(make_settings) -> None:
    with FinlifeReplay() as server:
        settings = live(make_settings, server)
        collect_products.run(settings, now=datetime(2026, 11, 21, 3))
        gone = server.rows[(DEP, BANK)][0].pop(0)  # the API stops listing one product
        result = collect_products.run(settings, now=datetime(2026, 11, 22, 3))
    dep = {d["source"]: d for d in result.details}["finlife:deposit"]
    assert dep["discontinued"] == 1 and dep["new"] == 0 and dep["active"] == 37
    store = open_store(settings)
    cat = {p.product_code: p for p in store.catalogue(source="finlife:deposit")}
    assert cat[gone["fin_prdt_cd"]].discontinued_on.isoformat() == "2026-11-22"
    assert len(cat) == 38


def test_snapshot_mode_reads_bundled_sources(make_settings) -> None:
    settings = make_settings()
    result = collect_products.run(settings, now=datetime(2026, 11, 22, 3))
    assert result.error is None
    sources = {d["source"] for d in result.details}
    assert {"finlife:deposit", "finlife:saving", "finlife:annuity", "finlife:credit_loan", "funds:kb"} <= sources
    again = collect_products.run(settings, now=datetime(2026, 11, 23, 3))
    assert all(d["new"] == 0 and d["changed"] == 0 and d["discontinued"] == 0 for d in again.details)


def test_sources_option_narrows_the_run_and_rejects_unknown_names(make_settings) -> None:
    settings = make_settings()
    result = collect_products.run(settings, now=datetime(2026, 11, 22, 3), sources=["finlife:credit_loan"])
    assert [d["source"] for d in result.details] == ["finlife:credit_loan"]
    assert {p.source for p in open_store(settings).catalogue()} == {"finlife:credit_loan"}
    with pytest.raises(ValueError, match="unknown source.*finlife:deposits.*known: .*finlife:deposit"):
        collect_products.run(settings, sources=["finlife:deposits"])
