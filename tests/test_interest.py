"""Deposit/saving interest: hand-computed examples, quotes on the bundled catalogue, the sentence round trip.

No Ray; every expected figure below is worked out in the comments (or by an independent
``Fraction`` computation), not copied from the code under test.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache

import pytest

from finray.advice.interest import (
    INTEREST_TAX_RATE,
    ComputedClaim,
    InterestQuote,
    after_tax,
    check_computed,
    deposit_interest,
    find_computed_claims,
    method_of,
    parse_won,
    quote,
    rate_text,
    render_quote,
    saving_interest,
)
from finray.products.model import Product, ProductType, RateOption
from finray.products.snapshot import load_snapshot

# --- helpers ---------------------------------------------------------------------------------


@cache
def _catalogue() -> tuple[tuple[Product, ...], tuple[Product, ...]]:
    """(deposits, savings) from the bundled snapshot, in the snapshot's (product_id) order."""
    snap = load_snapshot(sources=["finlife:deposit", "finlife:saving"])
    return tuple(snap["finlife:deposit"].products), tuple(snap["finlife:saving"].products)


def _deposits() -> tuple[Product, ...]:
    return _catalogue()[0]


def _savings() -> tuple[Product, ...]:
    return _catalogue()[1]


def _product(product_type: ProductType, *rates: RateOption) -> Product:
    kind = product_type.value
    return Product(
        product_id=f"{kind}:test:X1",
        product_type=product_type,
        source=f"test:{kind}",
        provider="테스트은행",
        product_code="X1",
        name="테스트상품",
        rates=rates,
    )


def _fraction_saving_compound(monthly: int, rate_pct: str, months: int) -> int:
    """Independent check: Σ_{k=1..n} monthly × ((1 + r/12)^k − 1) with exact fractions, floored."""
    i = Fraction(rate_pct) / 100 / 12
    return math.floor(sum(monthly * ((1 + i) ** k - 1) for k in range(1, months + 1)))


def _rows_12(product: Product) -> list[RateOption]:
    rows = [r for r in product.rates if r.term_months == 12]
    if product.product_type == ProductType.SAVING:
        rows = [r for r in rows if r.reserve_type == "정액적립식"] or rows
    return rows


# --- deposits --------------------------------------------------------------------------------


def test_simple_deposit_12_months() -> None:
    # 10,000,000 × 0.03 × 12/12 = 300,000; tax floor(300,000 × 0.154) = 46,200; 300,000 − 46,200 = 253,800
    pre = deposit_interest(10_000_000, 3.0, 12, "simple")
    assert pre == 300_000
    assert pre - after_tax(pre) == 46_200
    assert after_tax(pre) == 253_800


def test_monthly_compound_deposit_12_months() -> None:
    # 10,000,000 × (1.0025^12 − 1) = 10,000,000 × 0.0304159569… = 304,159.57… → 304,159
    assert deposit_interest(10_000_000, 3.0, 12, "monthly_compound") == 304_159
    exact = 10_000_000 * (Fraction(10025, 10000) ** 12 - 1)
    assert math.floor(exact) == 304_159


def test_six_month_deposit() -> None:
    # 10,000,000 × 0.035 × 6/12 = 175,000; tax floor(26,950.0) = 26,950; after tax 148,050
    assert deposit_interest(10_000_000, 3.5, 6, "simple") == 175_000
    assert after_tax(175_000) == 148_050
    # 월복리: 10,000,000 × ((1 + 0.035/12)^6 − 1), i = 0.00291666…:
    #   6i + 15i² + 20i³ + … = 0.0175 + 0.00012760 + 0.00000050 + … = 0.0176281… → 176,281
    expected = math.floor(10_000_000 * ((1 + Fraction("3.5") / 1200) ** 6 - 1))
    assert deposit_interest(10_000_000, 3.5, 6, "monthly_compound") == expected == 176_281


def test_three_decimal_rate() -> None:
    # 10,000,000 × 0.01728 × 12/12 = 172,800; tax floor(26,611.2) = 26,611; after tax 146,189
    assert deposit_interest(10_000_000, 1.728, 12, "simple") == 172_800
    assert after_tax(172_800) == 146_189
    expected = math.floor(10_000_000 * ((1 + Fraction("1.728") / 1200) ** 12 - 1))
    assert deposit_interest(10_000_000, 1.728, 12, "monthly_compound") == expected


def test_truncation_to_the_won() -> None:
    # 1,234,567 × 0.0333 × 7/12 = 1,234,567 × 0.019425 = 23,981.463975 → 23,981
    # tax floor(23,981 × 0.154 = 3,693.074) = 3,693; after tax 20,288
    assert deposit_interest(1_234_567, 3.33, 7, "simple") == 23_981
    assert after_tax(23_981) == 20_288


def test_no_float_drift() -> None:
    # 1,000,000 × 4.1% = 41,000 exactly; plain float gives 40,999.99999999999 and floors to 40,999
    assert math.floor(1_000_000 * 4.1 / 100) == 40_999
    assert deposit_interest(1_000_000, 4.1, 12, "simple") == 41_000
    # 30,000,000 × 4.35% = 1,305,000 exactly (float: 1,304,999.9999999998)
    assert deposit_interest(30_000_000, 4.35, 12, "simple") == 1_305_000


def test_zero_rate_and_one_month() -> None:
    assert deposit_interest(10_000_000, 0.0, 12, "monthly_compound") == 0
    assert saving_interest(100_000, 0.0, 24, "monthly_compound") == 0
    # one month: 단리 and 월복리 are the same, 10,000,000 × 0.03/12 = 25,000
    assert deposit_interest(10_000_000, 3.0, 1, "simple") == 25_000
    assert deposit_interest(10_000_000, 3.0, 1, "monthly_compound") == 25_000


# --- savings ---------------------------------------------------------------------------------


def test_simple_saving() -> None:
    # 500,000 × (0.03/12 = 0.0025) × 12·13/2 (= 78) = 97,500
    assert saving_interest(500_000, 3.0, 12, "simple") == 97_500
    # 500,000 × (0.04/12) × 24·25/2 (= 300) = 500,000 × 1 = 500,000
    assert saving_interest(500_000, 4.0, 24, "simple") == 500_000
    # tax floor(97,500 × 0.154 = 15,015) → 82,485
    assert after_tax(97_500) == 82_485


@pytest.mark.parametrize(
    ("monthly", "rate", "months"),
    [
        (500_000, "3.0", 12),
        (300_000, "3.5", 24),
        (1_000_000, "4.15", 36),
        (123_457, "1.728", 7),
        (10_000, "2.2", 600),
    ],
)
def test_compound_saving_matches_fractions(monthly: int, rate: str, months: int) -> None:
    expected = _fraction_saving_compound(monthly, rate, months)
    assert saving_interest(monthly, float(rate), months, "monthly_compound") == expected


def test_compound_saving_12_months_worked() -> None:
    # Σ_{k=1..12} 500,000 × (1.0025^k − 1) = 500,000 × (1.0025 × (1.0025^12 − 1)/0.0025 − 12)
    #   = 500,000 × (12.196… − 12) ≈ 98,155.… → compound pays a little more than 단리 (97,500)
    value = saving_interest(500_000, 3.0, 12, "monthly_compound")
    assert value == _fraction_saving_compound(500_000, "3.0", 12)
    assert 97_500 < value < 99_000


# --- tax, methods, validation ----------------------------------------------------------------


def test_tax_rate_and_after_tax() -> None:
    assert INTEREST_TAX_RATE == Fraction(154, 1000)
    assert after_tax(0) == 0
    assert after_tax(1) == 1  # floor(0.154) = 0
    assert after_tax(999) == 999 - 153  # floor(153.846) = 153


def test_method_of() -> None:
    assert method_of("단리") == "simple"
    assert method_of("복리") == "monthly_compound"
    assert method_of(None) == "simple"
    with pytest.raises(ValueError, match="interest_type"):
        method_of("일복리")


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: deposit_interest(0, 3.0, 12, "simple"), "principal"),
        (lambda: deposit_interest(-5, 3.0, 12, "simple"), "principal"),
        (lambda: saving_interest(0, 3.0, 12, "simple"), "monthly"),
        (lambda: deposit_interest(1_000, 3.0, 0, "simple"), "months"),
        (lambda: saving_interest(1_000, 3.0, 601, "simple"), "months"),
        (lambda: deposit_interest(1_000, -0.1, 12, "simple"), "annual_rate_pct"),
        (lambda: deposit_interest(1_000, 100.5, 12, "simple"), "annual_rate_pct"),
        (lambda: deposit_interest(1_000, float("nan"), 12, "simple"), "annual_rate_pct"),
        (lambda: deposit_interest(1_000, 3.0, 12, "daily"), "method"),  # type: ignore[arg-type]
    ],
)
def test_validation_names_the_argument(call, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        call()


def test_validation_message_shows_the_value() -> None:
    with pytest.raises(ValueError, match="601"):
        deposit_interest(1_000, 3.0, 601, "simple")


# --- quotes ----------------------------------------------------------------------------------


def test_quote_first_deposit_with_12_months() -> None:
    product = next(p for p in _deposits() if 12 in p.terms)
    rows = _rows_12(product)
    best_max = max(r.max_rate if r.max_rate is not None else r.base_rate for r in rows)
    q = quote(product, 30_000_000, 12)
    assert q is not None
    assert q.rate_pct == best_max and q.rate_kind == "max"
    row = next(r for r in rows if (r.max_rate if r.max_rate is not None else r.base_rate) == best_max)
    assert q.pre_tax_krw == deposit_interest(30_000_000, best_max, 12, method_of(row.interest_type))
    assert q.post_tax_krw == after_tax(q.pre_tax_krw)
    assert q.paid_in_krw == 30_000_000

    base = quote(product, 30_000_000, 12, rate_kind="base")
    assert base is not None and base.rate_kind == "base"
    assert base.rate_pct == max(r.base_rate for r in rows if r.base_rate is not None)


def test_quote_first_saving_with_12_months() -> None:
    product = next(p for p in _savings() if 12 in p.terms)
    rows = _rows_12(product)
    assert all(r.reserve_type == "정액적립식" for r in rows)
    q = quote(product, 500_000, 12)
    assert q is not None
    assert q.product_type == ProductType.SAVING
    best = max(r.max_rate for r in rows if r.max_rate is not None)
    assert q.rate_pct == best
    assert q.pre_tax_krw == saving_interest(500_000, best, 12, q.method)
    assert q.paid_in_krw == 500_000 * 12


def test_quote_none_when_term_missing_or_not_deposit() -> None:
    product = next(p for p in _deposits() if 12 in p.terms and 7 not in p.terms)
    assert quote(product, 1_000_000, 7) is None
    fund = _product(ProductType.FUND)
    assert quote(fund, 1_000_000, 12) is None
    no_rate = _product(ProductType.DEPOSIT, RateOption(term_months=12, interest_type="단리"))
    assert quote(no_rate, 1_000_000, 12) is None


def test_quote_max_falls_back_to_base_and_prefers_fixed_reserve() -> None:
    deposit = _product(ProductType.DEPOSIT, RateOption(term_months=12, interest_type="단리", base_rate=3.1))
    q = quote(deposit, 10_000_000, 12)
    assert q is not None and q.rate_pct == 3.1 and q.pre_tax_krw == 310_000

    saving = _product(
        ProductType.SAVING,
        RateOption(term_months=12, interest_type="단리", reserve_type="자유적립식", base_rate=3.0, max_rate=5.0),
        RateOption(term_months=12, interest_type="단리", reserve_type="정액적립식", base_rate=3.0, max_rate=4.0),
    )
    q = quote(saving, 500_000, 12)
    assert q is not None and q.rate_pct == 4.0  # the 정액적립식 row, which the formula models


def test_quote_tie_prefers_compound() -> None:
    product = _product(
        ProductType.DEPOSIT,
        RateOption(term_months=12, interest_type="단리", base_rate=3.0, max_rate=3.5),
        RateOption(term_months=12, interest_type="복리", base_rate=3.0, max_rate=3.5),
    )
    q = quote(product, 10_000_000, 12)
    assert q is not None and q.method == "monthly_compound"


def test_quote_rejects_bad_amount() -> None:
    product = next(p for p in _deposits() if 12 in p.terms)
    with pytest.raises(ValueError, match="principal"):
        quote(product, 0, 12)


# --- rendering and parsing -------------------------------------------------------------------


def test_rate_text() -> None:
    assert rate_text(3.5) == "3.50"
    assert rate_text(3.0) == "3.00"
    assert rate_text(3.55) == "3.55"
    assert rate_text(1.728) == "1.728"
    assert rate_text(4) == "4.00"


def test_render_deposit_and_saving_shape() -> None:
    dq = InterestQuote("deposit:x:1", ProductType.DEPOSIT, 10_000_000, 12, 3.0, "max", "simple", 300_000, 253_800)
    assert render_quote(dq) == (
        "1,000만원을 12개월 맡기면 최고 연 3.00%(단리) 기준 세전 이자 300,000원, "
        "세후 이자 253,800원입니다(계산값, 이자소득세 15.4%)."
    )
    sq = InterestQuote("saving:x:1", ProductType.SAVING, 500_000, 12, 3.0, "base", "simple", 97_500, 82_485)
    assert render_quote(sq) == (
        "월 50만원씩 12개월 납입하면 기본 연 3.00%(단리) 기준 세전 이자 97,500원, "
        "세후 이자 82,485원입니다(계산값, 이자소득세 15.4%)."
    )


@pytest.mark.parametrize(
    ("label", "won"),
    [("3,000만원", 30_000_000), ("1억원", 100_000_000), ("1억 5,000만원", 150_000_000), ("50만원", 500_000),
     ("12,345원", 12_345), ("5천만원", 50_000_000), ("3,000만 원", 30_000_000)],
)
def test_parse_won(label: str, won: int) -> None:
    assert parse_won(label) == won


def _claim_matches(claim: ComputedClaim, q: InterestQuote) -> None:
    assert claim.product_type == q.product_type
    assert claim.amount_krw == q.amount_krw
    assert claim.term_months == q.term_months
    assert claim.rate_kind == q.rate_kind
    assert claim.rate_pct == q.rate_pct
    assert claim.method == q.method
    assert claim.pre_tax_krw == q.pre_tax_krw
    assert claim.post_tax_krw == q.post_tax_krw
    assert claim.has_basis


@pytest.mark.parametrize("amount", [10_000_000, 150_000_000, 100_000_000, 12_345_678])
def test_round_trip_deposit(amount: int) -> None:
    product = next(p for p in _deposits() if 12 in p.terms)
    q = quote(product, amount, 12)
    assert q is not None
    claims = find_computed_claims(f"{product.name}: {render_quote(q)}")
    assert len(claims) == 1
    _claim_matches(claims[0], q)


@pytest.mark.parametrize("amount", [500_000, 1_234, 1_000_000])
def test_round_trip_saving(amount: int) -> None:
    product = next(p for p in _savings() if 12 in p.terms)
    q = quote(product, amount, 12, rate_kind="base")
    assert q is not None
    claims = find_computed_claims(render_quote(q))
    assert len(claims) == 1
    _claim_matches(claims[0], q)


def test_tolerant_parsing_of_a_model_written_sentence() -> None:
    line = "- 상품A: 3,000만 원을 12 개월 맡기면 최고 연 3.2% (단리) 기준, 세전 이자는 960,000원이고 세후 이자는 812,160원입니다."
    (claim,) = find_computed_claims(line)
    assert (claim.amount_krw, claim.term_months, claim.rate_kind, claim.rate_pct, claim.method) == (
        30_000_000, 12, "max", 3.2, "simple",
    )
    assert (claim.pre_tax_krw, claim.post_tax_krw) == (960_000, 812_160)


def test_figures_may_be_absent_and_loose_figures_are_found() -> None:
    line = "월 50만원씩 12개월 납입하면 기본 연 3.00%(단리) 기준 세후 이자 82,485원입니다. 만기 이자는 약 10만원, 1억원의 이자도 있어요."
    claims = find_computed_claims(line)
    assert [c.has_basis for c in claims] == [True, False, False]
    assert claims[0].pre_tax_krw is None and claims[0].post_tax_krw == 82_485
    assert [c.figure_krw for c in claims[1:]] == [100_000, 100_000_000]
    # the tax note inside the sentence is not an interest figure
    assert find_computed_claims("이자소득세 15.4%가 부과됩니다.") == []


# --- check_computed --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["max", "base"])
def test_check_accepts_every_12_month_quote_in_the_catalogue(kind: str) -> None:
    checked = 0
    for product in _deposits() + _savings():
        if 12 not in product.terms:
            continue
        amount = 500_000 if product.product_type == ProductType.SAVING else 30_000_000
        q = quote(product, amount, 12, rate_kind=kind)  # type: ignore[arg-type]
        if q is None:
            continue
        assert check_computed(render_quote(q), product) == [], product.product_id
        checked += 1
    assert checked > 500


def _first_deposit_quote() -> tuple[Product, InterestQuote, str]:
    product = next(p for p in _deposits() if 12 in p.terms)
    q = quote(product, 30_000_000, 12)
    assert q is not None
    return product, q, render_quote(q)


def test_check_rejects_pre_tax_off_by_one() -> None:
    product, q, text = _first_deposit_quote()
    wrong = text.replace(f"세전 이자 {q.pre_tax_krw:,}원", f"세전 이자 {q.pre_tax_krw + 1:,}원")
    problems = check_computed(wrong, product)
    assert len(problems) == 1
    assert f"'{q.pre_tax_krw + 1:,}원'" in problems[0] and f"{q.pre_tax_krw:,}원과 다릅니다" in problems[0]


def test_check_rejects_wrong_after_tax() -> None:
    product, q, text = _first_deposit_quote()
    # e.g. a model that took 14% instead of 15.4%
    wrong_post = q.pre_tax_krw - q.pre_tax_krw * 14 // 100
    wrong = text.replace(f"세후 이자 {q.post_tax_krw:,}원", f"세후 이자 {wrong_post:,}원")
    problems = check_computed(wrong, product)
    assert len(problems) == 1 and "세후" in problems[0] and f"{q.post_tax_krw:,}원" in problems[0]


def test_check_rejects_rate_of_another_term() -> None:
    def max_at(p: Product, term: int) -> set[float]:
        return {r.max_rate for r in p.rates if r.term_months == term and r.max_rate is not None}

    product = next(
        p for p in _deposits() if 6 in p.terms and 12 in p.terms and not max_at(p, 6) & max_at(p, 12)
    )
    q6 = quote(product, 10_000_000, 6)
    assert q6 is not None
    # the 6-month rate and its (correctly computed) figures, claimed for 12 months
    pre = deposit_interest(10_000_000, q6.rate_pct, 12, q6.method)
    q_wrong = InterestQuote(
        product.product_id, ProductType.DEPOSIT, 10_000_000, 12, q6.rate_pct, "max", q6.method, pre, after_tax(pre)
    )
    problems = check_computed(render_quote(q_wrong), product)
    assert len(problems) == 1 and "12개월 최고금리가 아닙니다" in problems[0]


def test_check_rejects_simple_product_described_as_compound() -> None:
    product = next(
        p for p in _deposits()
        if 12 in p.terms and all(r.interest_type == "단리" for r in p.rates if r.term_months == 12)
    )
    q = quote(product, 10_000_000, 12)
    assert q is not None and q.method == "simple"
    pre = deposit_interest(10_000_000, q.rate_pct, 12, "monthly_compound")
    claimed = InterestQuote(
        q.product_id, q.product_type, q.amount_krw, 12, q.rate_pct, "max", "monthly_compound", pre, after_tax(pre)
    )
    problems = check_computed(render_quote(claimed), product)
    assert len(problems) == 1 and "단리인데 '월복리'로" in problems[0]


def test_check_rejects_interest_without_basis() -> None:
    product, _, text = _first_deposit_quote()
    problems = check_computed("이 상품은 1년 맡기면 이자 50,000원을 받을 수 있어요.", product)
    assert problems and "근거를 알 수 없는 이자 금액 '50,000원'" in problems[0]
    # a correct sentence next to an unbased figure still fails on the latter only
    assert len(check_computed(f"{text} 이자는 50,000원 정도예요.", product)) == 1


def test_check_rejects_missing_term_and_wrong_product_type() -> None:
    product, q, text = _first_deposit_quote()
    missing = next(t for t in range(1, 61) if t not in product.terms)
    wrong_term = text.replace("12개월", f"{missing}개월")
    assert "만기가 없습니다" in check_computed(wrong_term, product)[0]
    as_saving = f"월 {q.amount_krw // 10_000:,}만원씩 12개월 납입하면 최고 연 {rate_text(q.rate_pct)}%(단리) 기준 세전 이자 1원입니다."
    assert "방식으로 계산했습니다" in check_computed(as_saving, product)[0]


def test_check_on_a_line_without_claims_is_empty() -> None:
    product, _, _ = _first_deposit_quote()
    assert check_computed("최고 연 3.20%, 12개월 만기 상품입니다. 이자소득세 15.4%가 붙습니다.", product) == []
