"""finlife / KB fund parsers and the bundled snapshot.

Counts and hand-checked values below come from the bundled files (finray/bundled/*/SOURCES.md).
Rows built inside tests are **synthetic parser fixtures**: made-up values in the documented FSS
field layout to exercise the parser, not product data.
"""

from __future__ import annotations

import collections
import json
from datetime import date
from typing import Any

import pytest

from finray.products.finlife import (
    ENDPOINTS,
    FIN_GROUPS,
    batch_from_api_result,
    batch_from_envelope,
    batches_from_fixture,
    parse_finlife,
)
from finray.products.funds import parse_kb_funds
from finray.products.model import JoinDeny, ProductType, RateOption
from finray.products.snapshot import SNAPSHOT_FILES, bundled_dir, load_snapshot, parse_snapshot_file

SEEN = date(2026, 11, 22)


def read(path: str) -> Any:
    return json.loads((bundled_dir() / path).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def snapshot() -> dict:
    return load_snapshot(SEEN)


def by_id(result) -> dict:
    return {p.product_id: p for p in result.products}


def rate(product, term: int, reserve: str | None = None) -> RateOption:
    (row,) = [r for r in product.rates if r.term_months == term and r.reserve_type == reserve]
    return row


# --- synthetic parser fixtures ------------------------------------------------------------------
def syn_base(cd: str, **kw: Any) -> dict[str, Any]:
    """SYNTHETIC parser fixture: a depositProductsSearch baseList row with made-up values."""
    row = {
        "dcls_month": "202611", "fin_co_no": "9999001", "fin_prdt_cd": cd, "kor_co_nm": "테스트은행",
        "fin_prdt_nm": f"테스트예금{cd}", "join_way": "인터넷,스마트폰", "mtrt_int": "만기 후 1%",
        "spcl_cnd": "테스트 우대조건", "join_deny": "1", "join_member": "개인", "etc_note": "비고",
        "max_limit": None,
    }
    row.update(kw)
    return row


def syn_opt(cd: str, trm: Any = "12", r1: Any = 2.5, r2: Any = 3.0, **kw: Any) -> dict[str, Any]:
    """SYNTHETIC parser fixture: a depositProductsSearch optionList row with made-up values."""
    row = {
        "dcls_month": "202611", "fin_co_no": "9999001", "fin_prdt_cd": cd, "intr_rate_type": "S",
        "intr_rate_type_nm": "단리", "save_trm": trm, "intr_rate": r1, "intr_rate2": r2,
    }
    row.update(kw)
    return row


# --- constants ----------------------------------------------------------------------------------
def test_endpoint_and_group_tables() -> None:
    assert ENDPOINTS["depositProductsSearch"] is ProductType.DEPOSIT
    assert ENDPOINTS["rentHouseLoanProductsSearch"] is ProductType.RENT_LOAN
    assert ENDPOINTS["creditLoanProductsSearch"] is ProductType.CREDIT_LOAN
    assert len(ENDPOINTS) == 6
    assert FIN_GROUPS["030300"] == "저축은행"
    with pytest.raises(ValueError, match="unknown finlife endpoint"):
        parse_finlife("nopeSearch", [], [], top_fin_grp_no=None)


# --- counts match the bundled files -------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "endpoint", "products", "options", "banks"),
    [
        ("finlife/deposit_202607_bank_rag_project.json", "depositProductsSearch", 38, 152, 18),
        ("finlife/saving_202607_bank_rag_project.json", "savingProductsSearch", 58, 181, 18),
    ],
)
def test_rag_project_envelopes_parse_completely(path, endpoint, products, options, banks) -> None:
    batch = batch_from_envelope(read(path))
    assert batch.endpoint == endpoint and batch.top_fin_grp_no == "020000"
    result = batch.parse(seen_on=SEEN)
    assert result.quarantined == []
    assert len(result.products) == products
    assert sum(len(p.rates) for p in result.products) == options
    assert len({p.provider_code for p in result.products}) == banks
    assert {p.disclosure_month for p in result.products} == {"202607"}
    assert {p.fin_group for p in result.products} == {"020000"}
    assert all(p.first_seen == p.last_seen == SEEN for p in result.products)


def test_deposit_fixture_splits_into_deposit_and_saving() -> None:
    batches = batches_from_fixture(
        read("finlife/thefp_fixture_deposit_products.json"), read("finlife/thefp_fixture_deposit_options.json")
    )
    results = {b.endpoint: b.parse() for b in batches}
    assert set(results) == {"depositProductsSearch", "savingProductsSearch"}
    dep, sav = results["depositProductsSearch"], results["savingProductsSearch"]
    assert (len(dep.products), len(sav.products)) == (411, 334)
    assert sum(len(p.rates) for r in (dep, sav) for p in r.products) == 4262
    assert dep.quarantined == [] and sav.quarantined == []
    assert {p.source for p in dep.products} == {"finlife:deposit"}
    assert {p.source for p in sav.products} == {"finlife:saving"}
    # the fixture dropped dcls_month and topFinGrpNo: nothing is invented for them
    assert {p.disclosure_month for p in dep.products + sav.products} == {None}
    assert {p.fin_group for p in dep.products + sav.products} == {None}
    # fixture save_trm is int, join_deny int: same meaning as the API's strings
    won = by_id(dep)["deposit:0010001:WR0001B"]
    assert rate(won, 12, None).base_rate == 3.55 and won.join_deny is JoinDeny.NONE
    assert collections.Counter(p.join_deny for p in dep.products + sav.products) == {
        JoinDeny.NONE: 725, JoinDeny.PARTIAL: 20,
    }


def test_annuity_fixture() -> None:
    (batch,) = batches_from_fixture(
        read("finlife/thefp_fixture_annuity_products.json"), read("finlife/thefp_fixture_annuity_options.json")
    )
    result = batch.parse()
    assert len(result.products) == 90 and result.quarantined == []
    assert collections.Counter(p.category for p in result.products) == {
        "연금저축펀드": 45, "연금저축보험(생명)": 29, "연금저축보험(손해)": 16,
    }
    assert {p.risk_grade for p in result.products} == {None}  # not graded in this feed
    assert sum(p.extra["pension_options"]["rows"] for p in result.products) == 5696

    lotte = by_id(result)["annuity:0010628:2920"]
    assert lotte.rates == (RateOption(label="공시이율", base_rate=1.6),)
    assert lotte.recent_returns == {"y1_ago": 1.6, "y2_ago": 1.65}
    assert lotte.guaranteed_rate_text and "경과기간 5년이하:1.25%" in lotte.guaranteed_rate_text
    assert "\r" not in lotte.guaranteed_rate_text
    assert lotte.extra["prdt_type_nm"] == "금리연동형" and lotte.extra["mntn_cnt"] == 363
    opts = lotte.extra["pension_options"]
    assert len(opts["examples"]) <= 4
    assert opts["examples"][0] == {
        "pnsn_recp_trm": "A", "pnsn_entr_age": 30, "mon_paym_atm": 10, "paym_prd": 10,
        "pnsn_strt_age": 60, "pnsn_recp_amt": 193520,
    }
    assert opts["values"]["pnsn_strt_age"] == [60, 65]

    fund = by_id(result)["annuity:0011317:K55232C99568"]
    assert fund.rates == ()  # 0.0 공시이율 is the feed's filler for 연금저축펀드
    assert fund.guaranteed_rate_text is None  # "정보 없음"
    assert fund.recent_returns["y1_ago"] == 73.65


def test_credit_loan_fixture() -> None:
    (batch,) = batches_from_fixture(
        read("finlife/thefp_fixture_creditloan_products.json"),
        read("finlife/thefp_fixture_creditloan_options.json"),
    )
    assert len(batch.option_list) == 33
    result = batch.parse()
    assert len(result.products) == 8 and result.quarantined == []
    woori = by_id(result)["credit_loan:0010001:CR0001A"]
    assert woori.category == "일반신용대출" and woori.extra["cb_name"] == "KCB"
    labels = {r.label: r.base_rate for r in woori.rates}
    assert labels["신용점수 900점 초과"] == 5.33 and labels["평균금리"] == 5.8
    assert "신용점수 301~400점" not in labels  # 0.0 = not offered to that band
    assert woori.extra["rate_components"]["기준금리"]["900점 초과"] == 3.64
    # a negative 가감조정금리 is a signed adjustment, not a bad rate: the product stays
    perfect = by_id(result)["credit_loan:0010001:CR0001C"]
    assert perfect.extra["rate_components"]["가감조정금리"]["501~600점"] == -0.4
    assert [r.base_rate for r in perfect.rates if r.label == "신용점수 501~600점"] == [9.47]


def test_funds_catalogue() -> None:
    catalogue = read("funds/kb_elite_funds_asof_20260630.json")
    result = parse_kb_funds(catalogue, seen_on=SEEN)
    assert len(result.products) == 311 and result.quarantined == []
    labels = collections.Counter(r["risk_grade"] for r in catalogue.values())
    grades = collections.Counter(p.risk_grade for p in result.products)
    # official scale: 1 매우높은위험 … 6 매우낮은위험 (the file's risk_score runs the other way)
    assert grades == {1: 18, 2: 120, 3: 70, 4: 43, 5: 40, 6: 20}
    assert grades == {g: labels[label] for g, label in
                      {1: "매우높은위험", 2: "높은위험", 3: "다소높은위험", 4: "보통위험", 5: "낮은위험", 6: "매우낮은위험"}.items()}
    kcgi = by_id(result)["fund:KF04008455"]
    assert (kcgi.risk_grade, kcgi.fee_pct, kcgi.category) == (2, 1.51, "주식형")
    assert kcgi.recent_returns == {"m1": 7.31, "m3": 14.3, "m6": 14.56, "m12": 46.52}
    assert kcgi.provider == "KCGI자산운용(구 메리츠)" and kcgi.source == "funds:kb"
    assert kcgi.disclosure_month == "202606"
    assert kcgi.extra["region"] == "중국" and kcgi.extra["share_class"] == "Ce적"
    assert "tags" not in kcgi.extra  # all its tags are False/None: nothing worth keeping
    assert kcgi.description.startswith("범중국 성장기업에 선별투자") and "공동 운용" in kcgi.description
    tags = collections.Counter(k for p in result.products for k in p.extra.get("tags", {}))
    assert tags["tdf"] == sum(r["tags"]["tdf"] for r in catalogue.values()) == 32
    assert tags["pension_eligible"] == sum(r["tags"]["pension_eligible"] for r in catalogue.values()) == 28
    # the one record without a manager keeps the feed's own "정보 없음" rather than a guess
    assert by_id(result)["fund:KF04010641"].provider == "정보 없음"


# --- the snapshot -------------------------------------------------------------------------------
def test_snapshot_sources_and_dedup(snapshot) -> None:
    assert set(snapshot) == set(SNAPSHOT_FILES) == {
        "finlife:deposit", "finlife:saving", "finlife:annuity", "finlife:credit_loan", "funds:kb",
    }
    for spec in {s for specs in SNAPSHOT_FILES.values() for s in specs}:
        assert all((bundled_dir() / p).is_file() for p in spec.paths)
    counts = {s: len(r.products) for s, r in snapshot.items()}
    # 38 (2026-07) + 411 fixture 예금 − 30 overlapping; 58 + 334 적금 − 46 overlapping
    assert counts == {
        "finlife:deposit": 419, "finlife:saving": 346, "finlife:annuity": 90,
        "finlife:credit_loan": 8, "funds:kb": 311,
    }
    assert all(not r.quarantined for r in snapshot.values())
    for source, result in snapshot.items():
        ids = [p.product_id for p in result.products]
        assert ids == sorted(set(ids)) and {p.source for p in result.products} == {source}

    dep = by_id(snapshot["finlife:deposit"])
    won = dep["deposit:0010001:WR0001B"]  # in both files: the 2026-07 disclosure wins
    assert won.disclosure_month == "202607" and won.fin_group == "020000"
    twelve = rate(won, 12)
    assert (twelve.interest_type, twelve.base_rate, twelve.max_rate) == ("단리", 3.2, 3.2)
    assert won.terms == (1, 3, 6, 12, 24, 36)
    assert won.join_channels == ("인터넷", "스마트폰", "전화(텔레뱅킹)")
    assert won.join_member == "실명의 개인" and won.max_limit is None
    assert won.preferential_conditions == "해당사항 없음"
    assert won.description.startswith("- 가입기간: 1~36개월")
    assert sum(p.disclosure_month == "202607" for p in dep.values()) == 38
    # a name the feed broke over lines is searched as one line
    assert dep["deposit:0010020:101272000006"].name == "제주Dream 정기예금 (개인/만기 지급식)"

    sav = by_id(snapshot["finlife:saving"])["saving:0010001:WR0001F"]
    free = rate(sav, 12, "자유적립식")
    assert (free.base_rate, free.max_rate, free.interest_type) == (2.45, 3.85, "단리")
    assert "급여/연금 이체:연 0.7%p" in sav.preferential_conditions


def test_snapshot_is_deterministic(snapshot) -> None:
    again = load_snapshot(SEEN)
    for source, result in snapshot.items():
        assert [(p.product_id, p.content_hash) for p in result.products] == [
            (p.product_id, p.content_hash) for p in again[source].products
        ]


def test_parse_snapshot_file_keeps_both_sources_of_the_fixture() -> None:
    spec = SNAPSHOT_FILES["finlife:saving"][1]
    result = parse_snapshot_file(spec)
    assert collections.Counter(p.source for p in result.products) == {
        "finlife:deposit": 411, "finlife:saving": 334,
    }


# --- quarantine and quirks (synthetic parser fixtures) ------------------------------------------
def test_bad_records_are_quarantined_and_the_batch_goes_on() -> None:
    # SYNTHETIC parser fixtures, not product data.
    base = [
        syn_base("OK1"),
        syn_base("NONAME", fin_prdt_nm=None),
        syn_base("BADRATE"),
        syn_base("BADMONTH", dcls_month="2026-11"),
        syn_base("OK2", max_limit="1,000,000", join_deny=3),
    ]
    opts = [
        syn_opt("OK1", "12"), syn_opt("OK1", "6", 2.0, 2.0),
        syn_opt("NONAME"),
        syn_opt("BADRATE", "12", "abc"), syn_opt("BADRATE", "24"),
        syn_opt("BADMONTH"),
        syn_opt("OK2", 12, "2.6", ""),
        syn_opt("ORPHAN"),
    ]
    result = parse_finlife("depositProductsSearch", base, opts, top_fin_grp_no="020000",
                           source_label="synthetic", seen_on=SEEN)
    assert [p.product_code for p in result.products] == ["OK1", "OK2"]
    reasons = {q.key.split("/")[1]: q.reason for q in result.quarantined}
    assert set(reasons) == {"NONAME", "BADRATE", "BADMONTH", "ORPHAN"}
    assert "fin_prdt_nm" in reasons["NONAME"] and "1 option rows dropped" in reasons["NONAME"]
    assert "intr_rate='abc'" in reasons["BADRATE"] and "save_trm='12'" in reasons["BADRATE"]
    assert "withheld" in reasons["BADRATE"]
    assert "dcls_month='2026-11'" in reasons["BADMONTH"]
    assert "no base row" in reasons["ORPHAN"]
    assert all(q.source == "finlife:deposit" and "[synthetic]" in q.reason for q in result.quarantined)
    bad = next(q for q in result.quarantined if q.key.endswith("BADRATE"))
    assert bad.raw["intr_rate"] == "abc"  # the offending row is kept for inspection

    ok1, ok2 = result.products
    assert ok1.product_id == "deposit:9999001:OK1" and ok1.fin_group == "020000"
    assert ok1.terms == (6, 12)
    assert rate(ok2, 12) == RateOption(term_months=12, interest_type="단리", base_rate=2.6, max_rate=None)
    assert ok2.max_limit == 1_000_000 and ok2.join_deny is JoinDeny.PARTIAL


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("intr_rate", -0.1, "intr_rate=-0.1 is below 0"),
        ("intr_rate2", 101, "intr_rate2=101 is above 100"),
        ("intr_rate", "NaN", "not a finite number"),
        ("intr_rate", True, "intr_rate=True is not a number"),
        ("save_trm", "12개월", "save_trm='12개월' is not a number"),
        ("save_trm", None, "save_trm is missing"),
        ("save_trm", 6.5, "save_trm=6.5 is not a whole number"),
    ],
)
def test_option_values_out_of_meaning(field: str, value: Any, needle: str) -> None:
    opt = syn_opt("X")
    opt[field] = value
    result = parse_finlife("depositProductsSearch", [syn_base("X")], [opt], top_fin_grp_no=None)
    assert result.products == []
    (q,) = result.quarantined
    assert needle in q.reason


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("join_deny", "9", "join_deny='9'"),
        ("max_limit", "많음", "max_limit='많음'"),
        ("max_limit", -5, "max_limit=-5"),
        ("dcls_month", "202613", "dcls_month='202613'"),
        ("kor_co_nm", "  ", "kor_co_nm is missing"),
        ("fin_co_no", None, "fin_co_no is missing"),
    ],
)
def test_base_values_out_of_meaning(field: str, value: Any, needle: str) -> None:
    result = parse_finlife("depositProductsSearch", [syn_base("X", **{field: value})], [syn_opt("X")],
                           top_fin_grp_no=None)
    assert result.products == []
    assert needle in result.quarantined[0].reason


def test_type_tolerance_same_meaning() -> None:
    # SYNTHETIC parser fixtures: API strings vs fixture ints give the same product.
    as_api = parse_finlife("depositProductsSearch", [syn_base("T", join_deny="1", max_limit="50000000")],
                           [syn_opt("T", "12", "2.5", "3.0")], top_fin_grp_no=None).products[0]
    as_ints = parse_finlife("depositProductsSearch", [syn_base("T", join_deny=1, max_limit=50_000_000.0)],
                            [syn_opt("T", 12, 2.5, 3)], top_fin_grp_no=None).products[0]
    assert as_api == as_ints and as_api.content_hash == as_ints.content_hash
    assert as_api.rates[0].term_months == 12 and as_api.max_limit == 50_000_000
    blank = parse_finlife("depositProductsSearch", [syn_base("B", max_limit="")],
                          [syn_opt("B", "12", None, "")], top_fin_grp_no=None)
    assert blank.quarantined == [] and blank.products[0].rates[0].base_rate is None
    assert blank.products[0].max_limit is None


def test_products_without_options_and_repeated_pages() -> None:
    result = parse_finlife("depositProductsSearch", [syn_base("A", fin_prdt_nm="첫 페이지"),
                                                     syn_base("A", fin_prdt_nm="다음 페이지")],
                           [], top_fin_grp_no=None)
    (only,) = result.products
    assert only.name == "다음 페이지" and only.rates == ()


def test_option_order_does_not_change_the_product() -> None:
    opts = [syn_opt("O", "6", 2.0, 2.0), syn_opt("O", "12"), syn_opt("O", "24", 2.7, 2.9)]
    a = parse_finlife("depositProductsSearch", [syn_base("O")], opts, top_fin_grp_no=None).products[0]
    b = parse_finlife("depositProductsSearch", [syn_base("O")], opts[::-1], top_fin_grp_no=None).products[0]
    assert a.content_hash == b.content_hash and a.terms == (6, 12, 24)


def test_content_hash_tracks_rates_not_bookkeeping() -> None:
    make = lambda r1, seen: parse_finlife(  # noqa: E731
        "depositProductsSearch", [syn_base("H")], [syn_opt("H", "12", r1)], top_fin_grp_no=None, seen_on=seen
    ).products[0]
    base = make(2.5, date(2026, 11, 1))
    assert make(2.5, date(2026, 11, 1)).content_hash == base.content_hash
    assert make(2.5, date(2026, 12, 1)).content_hash == base.content_hash  # only last_seen moved
    assert base.model_copy(update={"last_seen": date(2027, 1, 1)}).content_hash == base.content_hash
    assert make(2.55, date(2026, 11, 1)).content_hash != base.content_hash
    # a reused source_label does not enter the product either
    labelled = parse_finlife("depositProductsSearch", [syn_base("H")], [syn_opt("H", "12", 2.5)],
                             top_fin_grp_no=None, source_label="p.2", seen_on=date(2026, 11, 1)).products[0]
    assert labelled.content_hash == base.content_hash


def test_api_result_page_adapter() -> None:
    # SYNTHETIC parser fixture shaped like a live response page.
    page = {"result": {"err_cd": "000", "err_msg": "정상", "total_count": 1, "max_page_no": 1, "now_page_no": 1,
                       "baseList": [syn_base("P")], "optionList": [syn_opt("P")]}}
    batch = batch_from_api_result("depositProductsSearch", page, top_fin_grp_no="030300")
    (p,) = batch.parse(seen_on=SEEN).products
    assert p.fin_group == "030300" and p.source == "finlife:deposit"


def test_fixture_adapter_checks_foreign_keys() -> None:
    # SYNTHETIC Django-fixture rows (not product data).
    products = [
        {"model": "savedata.depositproducts", "pk": 1,
         "fields": {**syn_base("F1"), "join_deny": 1, "product_type": "적금"}},
        {"model": "savedata.depositproducts", "pk": 2,
         "fields": {**syn_base("F2"), "product_type": "보험"}},
    ]
    opt = {k: v for k, v in syn_opt("F1", 12).items() if k != "dcls_month"}
    options = [
        {"model": "savedata.depositoptions", "pk": 10, "fields": {**opt, "product": 1, "rsrv_type_nm": "정액적립식"}},
        {"model": "savedata.depositoptions", "pk": 11, "fields": {**opt, "product": 1, "fin_prdt_cd": "OTHER"}},
        {"model": "savedata.depositoptions", "pk": 12, "fields": {**opt, "product": 99}},
    ]
    batches = batches_from_fixture(products, options, source_label="syn.json")
    result = {b.endpoint: b.parse() for b in batches}
    (saving,) = result["savingProductsSearch"].products
    assert saving.product_id == "saving:9999001:F1"
    assert saving.rates == (RateOption(term_months=12, interest_type="단리", reserve_type="정액적립식",
                                       base_rate=2.5, max_rate=3.0),)
    reasons = " | ".join(q.reason for r in result.values() for q in r.quarantined)
    assert "product_type='보험'" in reasons
    assert "disagrees with its product pk=1" in reasons
    assert "product=99 matches no product pk" in reasons


def test_mortgage_and_rent_loans() -> None:
    # SYNTHETIC parser fixtures in the FSS mortgage/rentHouse layout; no public dump is bundled.
    base = {
        "dcls_month": "202611", "fin_co_no": "9999002", "fin_prdt_cd": "M1", "kor_co_nm": "테스트은행",
        "fin_prdt_nm": "테스트 주택담보대출", "join_way": "영업점,인터넷", "loan_inci_expn": "인지세 50%",
        "erly_rpay_fee": "3년 이내 1.2%", "dly_rate": "약정금리+3%", "loan_lmt": "LTV 70% 이내",
        "dcls_strt_day": "20261101", "dcls_end_day": "99991231",
    }
    options = [
        {"fin_co_no": "9999002", "fin_prdt_cd": "M1", "mrtg_type": "A", "mrtg_type_nm": "아파트",
         "rpay_type": "D", "rpay_type_nm": "분할상환방식", "lend_rate_type": "F", "lend_rate_type_nm": "고정금리",
         "lend_rate_min": "3.41", "lend_rate_max": 5.62, "lend_rate_avg": 4.29},
        {"fin_co_no": "9999002", "fin_prdt_cd": "M1", "mrtg_type": "A", "mrtg_type_nm": "아파트",
         "rpay_type": "D", "rpay_type_nm": "분할상환방식", "lend_rate_type": "C", "lend_rate_type_nm": "변동금리",
         "lend_rate_min": 3.9, "lend_rate_max": 6.1, "lend_rate_avg": None},
    ]
    (m,) = parse_finlife("mortgageLoanProductsSearch", [base], options, top_fin_grp_no="020000").products
    assert m.product_id == "mortgage_loan:9999002:M1" and m.source == "finlife:mortgage_loan"
    assert m.rates[0] == RateOption(label="아파트 · 분할상환방식 · 고정금리", base_rate=3.41, max_rate=5.62)
    assert m.extra["avg_rates"] == {"아파트 · 분할상환방식 · 고정금리": 4.29}
    assert m.extra["loan_lmt"] == "LTV 70% 이내" and m.extra["erly_rpay_fee"] == "3년 이내 1.2%"
    assert "dcls_end_day" not in m.extra  # 99991231 = no end date

    rent_base = {**base, "fin_prdt_cd": "R1", "fin_prdt_nm": "테스트 전세자금대출"}
    rent_opt = {k: v for k, v in options[0].items() if not k.startswith("mrtg")} | {"fin_prdt_cd": "R1"}
    (r,) = parse_finlife("rentHouseLoanProductsSearch", [rent_base], [rent_opt], top_fin_grp_no=None).products
    assert r.product_type is ProductType.RENT_LOAN and r.rates[0].label == "분할상환방식 · 고정금리"

    inverted = {**options[0], "lend_rate_min": 7.0}
    bad = parse_finlife("mortgageLoanProductsSearch", [base], [inverted], top_fin_grp_no=None)
    assert bad.products == [] and "lend_rate_min=7.0 is above lend_rate_max=5.62" in bad.quarantined[0].reason


def test_credit_loan_negative_loan_rate_is_quarantined() -> None:
    # SYNTHETIC parser fixture: a 대출금리 (type A) row may not be negative.
    base = {"fin_co_no": "9999003", "fin_prdt_cd": "C1", "kor_co_nm": "테스트은행", "fin_prdt_nm": "테스트 신용대출",
            "crdt_prdt_type_nm": "일반신용대출", "cb_name": "NICE"}
    row = {"fin_co_no": "9999003", "fin_prdt_cd": "C1", "crdt_lend_rate_type": "A",
           "crdt_lend_rate_type_nm": "대출금리", "crdt_grad_1": -1.0, "crdt_grad_avg": 5.0}
    bad = parse_finlife("creditLoanProductsSearch", [base], [row], top_fin_grp_no=None)
    assert bad.products == [] and "crdt_grad_1=-1.0 is below 0" in bad.quarantined[0].reason
    ok = parse_finlife("creditLoanProductsSearch", [base], [{**row, "crdt_grad_1": "4.5", "crdt_grad_4": None}],
                       top_fin_grp_no=None)
    assert [(r.label, r.base_rate) for r in ok.products[0].rates] == [("신용점수 900점 초과", 4.5), ("평균금리", 5.0)]


# --- funds quarantine ---------------------------------------------------------------------------
def syn_fund(**kw: Any) -> dict[str, Any]:
    """SYNTHETIC parser fixture in the KB catalogue layout (made-up values)."""
    row = {"name": "테스트 증권투자신탁(주식)", "fee_pct": 1.0, "one_liner": "테스트", "returns": {"m1": 1.0},
           "fund_type": "주식형", "risk_grade": "높은위험", "risk_score": 5, "manager": "테스트운용",
           "region": "국내", "features": "- 테스트", "stocks_raw": None, "tags": {"tdf": False, "hedge": "H"},
           "share_class": "C-e", "as_of": "2026-06-30"}
    row.update(kw)
    return row


def test_fund_records_are_checked() -> None:
    result = parse_kb_funds({
        "KF1": syn_fund(),
        "KF2": syn_fund(risk_grade="높은위험", risk_score=2),  # label says 2 officially; file scale says 5
        "KF3": syn_fund(risk_grade="위험함"),
        "KF4": syn_fund(returns={"m1": "n/a"}),
        "KF5": syn_fund(as_of="30/06/2026"),
        "KF6": syn_fund(fee_pct=-1),
        "KF7": syn_fund(name=""),
        "KF8": syn_fund(risk_grade="매우낮은위험", risk_score="1"),
    })
    assert [p.product_id for p in result.products] == ["fund:KF1", "fund:KF8"]
    assert result.products[0].risk_grade == 2 and result.products[1].risk_grade == 6
    assert result.products[0].extra["tags"] == {"hedge": "H"}
    reasons = {q.key: q.reason for q in result.quarantined}
    assert "risk_score=2 disagrees with risk_grade='높은위험'" in reasons["KF2"]
    assert "risk_grade='위험함'" in reasons["KF3"]
    assert "m1='n/a'" in reasons["KF4"]
    assert "as_of='30/06/2026'" in reasons["KF5"]
    assert "fee_pct=-1" in reasons["KF6"]
    assert "name is missing" in reasons["KF7"]
    assert {q.source for q in result.quarantined} == {"funds:kb"}
