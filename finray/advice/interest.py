"""Deposit (정기예금) and saving (적금) interest: the calculation, the sentence that states it, its check.

An answer may say "3,000만원을 12개월 맡기면 … 세후 이자 N원" only if N is recomputed from the
catalogue, never taken from a model's text. So three things live together here:

* pure calculations (:func:`deposit_interest`, :func:`saving_interest`, :func:`after_tax`) that
  are exact: rates are read with ``Decimal(repr(rate))`` (3.55 stays 3.55, not 3.5499…) and the
  formulas run on the rate's exact integer ratio, so the floor to the 원 never depends on float or
  Decimal rounding and the same inputs give the same 원 on every machine;
* :func:`quote` / :func:`render_quote`, which build the sentence from a product's own rate rows;
* :func:`find_computed_claims` / :func:`check_computed`, which read such sentences (ours or a
  model's) back and recompute them against the product, so the verifier can reject a figure that
  does not match the data to the 원.

Money is ``int`` 원; rates are % per year as ``float`` (3.5 means 3.5 %/yr).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from finray.intent.model import won_label
from finray.products.model import Product, ProductType, RateOption

Method = Literal["simple", "monthly_compound"]
RateKind = Literal["base", "max"]

#: 이자소득세 14% + 지방소득세 1.4% (일반과세). 비과세종합저축·세금우대 are not modelled.
INTEREST_TAX_RATE = Decimal("0.154")

MAX_MONTHS = 600
_METHODS: tuple[Method, ...] = ("simple", "monthly_compound")
_METHOD_KO: dict[str, str] = {"simple": "단리", "monthly_compound": "월복리"}
_KIND_KO: dict[str, str] = {"base": "기본", "max": "최고"}
_FIXED_RESERVE = "정액적립식"
_RATE_TOLERANCE = 0.005  # a rate written with two decimals still names the data's rate


# --- pure calculations -------------------------------------------------------------------------


def _check_amount(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer number of 원 ≥ 1, got {value!r}")


def _check_months(months: int) -> None:
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be an integer in 1..{MAX_MONTHS}, got {months!r}")


def _rate_ratio(annual_rate_pct: float) -> tuple[int, int]:
    """The rate as written, as an exact fraction ``num/den`` of a percent."""
    if isinstance(annual_rate_pct, bool) or not isinstance(annual_rate_pct, int | float | Decimal):
        raise ValueError(f"annual_rate_pct must be a number in 0..100, got {annual_rate_pct!r}")
    if not math.isfinite(annual_rate_pct) or not 0 <= annual_rate_pct <= 100:
        raise ValueError(f"annual_rate_pct must be in 0..100, got {annual_rate_pct!r}")
    rate = annual_rate_pct if isinstance(annual_rate_pct, Decimal) else Decimal(repr(annual_rate_pct))
    return rate.as_integer_ratio()


def _check_method(method: str) -> None:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")


def deposit_interest(principal: int, annual_rate_pct: float, months: int, method: Method) -> int:
    """정기예금 interest before tax, floored to the 원 as Korean bank calculators show it.

    단리: ``principal × r × months/12``; 월복리: ``principal × ((1 + r/12)^months − 1)``.
    """
    _check_amount("principal", principal)
    num, den = _rate_ratio(annual_rate_pct)
    _check_months(months)
    _check_method(method)
    # monthly rate r/12 with r = num/den % → num / (1200·den), kept as integers for an exact floor
    b = 1200 * den
    if method == "simple":
        return principal * num * months // b
    a = b + num
    return principal * (a**months - b**months) // b**months


def saving_interest(monthly: int, annual_rate_pct: float, months: int, method: Method) -> int:
    """적금 정액적립식 interest before tax: ``monthly`` paid at the start of each of ``months`` months.

    The k-th payment from the end earns k months, so 단리 is ``monthly × r/12 × months(months+1)/2``
    and 월복리 is ``Σ_{k=1..months} monthly × ((1 + r/12)^k − 1)``; floored to the 원.
    """
    _check_amount("monthly", monthly)
    num, den = _rate_ratio(annual_rate_pct)
    _check_months(months)
    _check_method(method)
    b = 1200 * den
    if method == "simple":
        return monthly * num * months * (months + 1) // (2 * b)
    if num == 0:
        return 0
    a = b + num
    # Σ_{k=1..n} a^k b^(n-k) = a (a^n − b^n) / (a − b), an exact integer division
    geometric = a * (a**months - b**months) // (a - b)
    return monthly * (geometric - months * b**months) // b**months


def interest_tax(interest: int) -> int:
    """이자소득세 + 지방소득세 on ``interest``, floored to the 원 (15.4 %, 일반과세)."""
    if isinstance(interest, bool) or not isinstance(interest, int) or interest < 0:
        raise ValueError(f"interest must be an integer number of 원 ≥ 0, got {interest!r}")
    num, den = INTEREST_TAX_RATE.as_integer_ratio()
    return interest * num // den


def after_tax(interest: int) -> int:
    """Interest after tax under 일반과세: ``interest − floor(interest × 0.154)``.

    15.4 % = 이자소득세 14 % + 지방소득세 1.4 %, the rate that applies unless an account is
    비과세 (비과세종합저축 …) or 세금우대; those depend on the customer, not the product, so they are
    not modelled and every figure states it assumes 15.4 %. The tax is floored to the 원, which is
    how bank calculators show it (the customer keeps the fraction).
    """
    return interest - interest_tax(interest)


def method_of(interest_type: str | None) -> Method:
    """finlife ``intr_rate_type_nm`` → method. 복리 in the deposit/saving tables means 월복리."""
    if interest_type is None:
        return "simple"
    kind = interest_type.strip()
    if kind == "단리":
        return "simple"
    if kind in ("복리", "월복리"):
        return "monthly_compound"
    raise ValueError(f"interest_type must be 단리 or 복리, got {interest_type!r}")


# --- quotes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterestQuote:
    """Interest for one product, amount and term, computed from the product's own rate row."""

    product_id: str
    product_type: ProductType  # DEPOSIT or SAVING
    amount_krw: int  # the principal (deposit) or the monthly payment (saving)
    term_months: int
    rate_pct: float  # the rate used, copied from the product's data
    rate_kind: RateKind  # 기본금리 or 최고(우대)금리
    method: Method
    pre_tax_krw: int
    post_tax_krw: int

    @property
    def paid_in_krw(self) -> int:
        """What the customer puts in: the principal, or monthly × months."""
        if self.product_type == ProductType.SAVING:
            return self.amount_krw * self.term_months
        return self.amount_krw


def _rate_of(row: RateOption, kind: RateKind) -> float | None:
    """The row's rate of ``kind``; 최고금리 falls back to 기본금리 when the feed left it empty."""
    if kind == "base":
        return row.base_rate
    return row.max_rate if row.max_rate is not None else row.base_rate


def _term_rows(product: Product, term_months: int) -> list[RateOption]:
    """Rows that price ``term_months``; for savings the 정액적립식 rows, which the formula models."""
    rows = [r for r in product.rates if r.term_months == term_months]
    if product.product_type == ProductType.SAVING:
        fixed = [r for r in rows if r.reserve_type == _FIXED_RESERVE]
        return fixed or rows
    return rows


def _compute(product_type: ProductType, amount: int, rate: float, months: int, method: Method) -> int:
    if product_type == ProductType.SAVING:
        return saving_interest(amount, rate, months, method)
    return deposit_interest(amount, rate, months, method)


def quote(
    product: Product, amount_krw: int, term_months: int, rate_kind: RateKind = "max"
) -> InterestQuote | None:
    """Interest on ``amount_krw`` over ``term_months`` at the product's highest rate of ``rate_kind``.

    None when the product is not a deposit/saving, does not offer that term, or has no rate for
    it: a quote is never made up from a neighbouring term. When a 단리 and a 복리 row offer the
    same highest rate (banks let the saver choose), the 복리 row is used; it pays at least as much.
    Raises ``ValueError`` for an amount < 1 or a bad ``rate_kind``.
    """
    if rate_kind not in _KIND_KO:
        raise ValueError(f"rate_kind must be 'base' or 'max', got {rate_kind!r}")
    if product.product_type not in (ProductType.DEPOSIT, ProductType.SAVING):
        return None
    best: tuple[float, int, RateOption] | None = None
    for row in _term_rows(product, term_months):
        rate = _rate_of(row, rate_kind)
        if rate is None:
            continue
        try:
            compound = int(method_of(row.interest_type) == "monthly_compound")
        except ValueError:
            continue  # an interest type we cannot model is not quoted
        if best is None or (rate, compound) > best[:2]:
            best = (rate, compound, row)
    if best is None:
        return None
    rate, _, row = best
    method = method_of(row.interest_type)
    pre = _compute(product.product_type, amount_krw, rate, term_months, method)
    return InterestQuote(
        product_id=product.product_id,
        product_type=product.product_type,
        amount_krw=amount_krw,
        term_months=term_months,
        rate_pct=rate,
        rate_kind=rate_kind,
        method=method,
        pre_tax_krw=pre,
        post_tax_krw=after_tax(pre),
    )


# --- the sentence --------------------------------------------------------------------------------


def rate_text(rate_pct: float) -> str:
    """At least two decimals (3.5 → "3.50"), more when the data has them (1.728 → "1.728")."""
    value = Decimal(repr(rate_pct))
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        return format(value.normalize(), "f")
    return format(value.quantize(Decimal("0.01")), "f")


def _basis(product_type: ProductType, amount: int, term: int) -> str:
    if product_type == ProductType.SAVING:
        return f"월 {won_label(amount)}씩 {term}개월 납입하면"
    return f"{won_label(amount)}을 {term}개월 맡기면"


def render_quote(q: InterestQuote) -> str:
    """The one sentence that states a computed figure, marked as computed, with its whole basis."""
    return (
        f"{_basis(q.product_type, q.amount_krw, q.term_months)} {_KIND_KO[q.rate_kind]} "
        f"연 {rate_text(q.rate_pct)}%({_METHOD_KO[q.method]}) 기준 "
        f"세전 이자 {q.pre_tax_krw:,}원, 세후 이자 {q.post_tax_krw:,}원입니다(계산값, 이자소득세 15.4%)."
    )


@dataclass(frozen=True)
class ComputedClaim:
    """A computed-interest statement found in a line of answer text.

    A full sentence fills the basis (type, amount, term, rate, …) and one or both figures. An
    interest amount written anywhere else ("이자는 30만원") has only ``figure_krw`` and no basis, so
    the verifier can reject a figure it cannot recompute.
    """

    text: str  # the matched span, as written
    product_type: ProductType | None = None  # DEPOSIT (맡기면) or SAVING (월 … 납입하면)
    amount_krw: int | None = None
    term_months: int | None = None
    rate_kind: RateKind | None = None  # None when the sentence did not say 기본/최고
    rate_pct: float | None = None
    method: Method | None = None  # None when the sentence did not say 단리/월복리
    pre_tax_krw: int | None = None
    post_tax_krw: int | None = None
    figure_krw: int | None = None  # an interest amount outside a full sentence

    @property
    def has_basis(self) -> bool:
        return None not in (self.product_type, self.amount_krw, self.term_months, self.rate_pct)


# A money label: "3,000만원", "1억원", "1억 5,000만원", "5천만원", "12,345원" (spaces tolerated).
_MONEY = r"\d[\d,]*(?:\s*[억천만](?:\s*\d[\d,]*)?)*\s*원"
_NUM = r"\d[\d,]*"
_TAIL = (
    r"\s*(?:(?P<kind>기본|최고)(?:\s*우대)?(?:\s*금리)?\s*)?"
    r"(?:연\s*)?(?:금리\s*)?(?P<rate>\d+(?:\.\d+)?)\s*%"
    r"\s*(?:\(\s*(?P<method>단리|월복리|복리)\s*\)|(?P<method2>단리|월복리|복리))?"
    r"\s*기준(?:으로)?"
    rf"(?:\s*,?\s*세전(?:\s*이자)?\s*(?:는|은)?\s*(?P<pre>{_NUM})\s*원)?"
    rf"(?:\s*(?:,|/|이고|이며|이고요)?\s*세후(?:\s*이자)?\s*(?:는|은)?\s*(?P<post>{_NUM})\s*원)?"
    r"(?:\s*(?:입니다|이에요|예요|이다))?"
    r"(?:\s*\(\s*계산값[^)]*\))?\.?"
)
_DEPOSIT_RE = re.compile(rf"(?P<amount>{_MONEY})\s*[을를]\s*(?P<term>\d+)\s*개월(?:\s*동안)?\s*맡기면" + _TAIL)
_SAVING_RE = re.compile(rf"(?:매\s*)?월\s*(?P<amount>{_MONEY})\s*씩\s*(?P<term>\d+)\s*개월(?:\s*동안)?\s*납입하면" + _TAIL)
_LOOSE_RES = (
    re.compile(rf"이자\s*(?:는|은|가|도|액은|액|금액은|금액)?\s*(?:약\s*|총\s*)?(?P<fig>{_MONEY})"),
    re.compile(rf"(?P<fig>{_MONEY})\s*의\s*(?:세전\s*|세후\s*)?이자"),
)
_SMALL_RE = re.compile(r"(?:(\d+)천)?(\d*)")


def _small(text: str) -> int | None:
    """"5천500" → 5500, "1234" → 1234, "" → 0; None when it is not such a number."""
    m = _SMALL_RE.fullmatch(text)
    if m is None:
        return None
    return int(m.group(1) or 0) * 1000 + int(m.group(2) or 0)


def parse_won(text: str) -> int | None:
    """A Korean money label back to 원: "1억 5,000만원" → 150,000,000; None when it is not one."""
    s = re.sub(r"[\s,]", "", text)
    if not s.endswith("원") or not any(c.isdigit() for c in s):
        return None
    s = s[:-1]
    total = 0
    if "억" in s:
        eok, s = s.split("억", 1)
        value = _small(eok)
        if value is None or value == 0:
            return None
        total += value * 100_000_000
    if "만" in s:
        man, s = s.split("만", 1)
        value = _small(man)
        if value is None or (value == 0 and man == ""):
            return None
        total += value * 10_000
    rest = _small(s)
    if rest is None:
        return None
    return total + rest


def _int(text: str | None) -> int | None:
    return None if text is None else int(text.replace(",", ""))


def _method_from(text: str | None) -> Method | None:
    return None if text is None else method_of(text)


def find_computed_claims(line: str) -> list[ComputedClaim]:
    """Every computed-interest sentence in ``line``, then every other interest figure, in text order."""
    found: list[tuple[int, ComputedClaim]] = []
    spans: list[tuple[int, int]] = []
    for pattern, product_type in ((_DEPOSIT_RE, ProductType.DEPOSIT), (_SAVING_RE, ProductType.SAVING)):
        for m in pattern.finditer(line):
            kind = m.group("kind")
            claim = ComputedClaim(
                text=m.group(0),
                product_type=product_type,
                amount_krw=parse_won(m.group("amount")),
                term_months=int(m.group("term")),
                rate_kind=None if kind is None else ("base" if kind == "기본" else "max"),
                rate_pct=float(m.group("rate")),
                method=_method_from(m.group("method") or m.group("method2")),
                pre_tax_krw=_int(m.group("pre")),
                post_tax_krw=_int(m.group("post")),
            )
            found.append((m.start(), claim))
            spans.append(m.span())
    for pattern in _LOOSE_RES:
        for m in pattern.finditer(line):
            start, end = m.span()
            if any(start < e and s < end for s, e in spans):
                continue
            spans.append((start, end))
            found.append((start, ComputedClaim(text=m.group(0), figure_krw=parse_won(m.group("fig")))))
    found.sort(key=lambda item: item[0])
    return [claim for _, claim in found]


# --- the check -----------------------------------------------------------------------------------


def _describe(claim: ComputedClaim) -> str:
    assert claim.product_type is not None and claim.amount_krw is not None and claim.rate_pct is not None
    parts = [won_label(claim.amount_krw) + (" 월 납입" if claim.product_type == ProductType.SAVING else "")]
    parts.append(f"{claim.term_months}개월")
    kind = "" if claim.rate_kind is None else _KIND_KO[claim.rate_kind] + " "
    method = "" if claim.method is None else " " + _METHOD_KO[claim.method]
    parts.append(f"{kind}연 {rate_text(claim.rate_pct)}%{method}")
    return "·".join(parts)


def _check_claim(claim: ComputedClaim, product: Product) -> list[str]:
    if not claim.has_basis or claim.amount_krw is None:
        figure = claim.figure_krw
        shown = f"'{figure:,}원'" if figure is not None else f"'{claim.text}'"
        return [
            f"근거를 알 수 없는 이자 금액 {shown}입니다. 이자는 금액·기간·금리·계산 방식을 밝힌 "
            "계산 문장으로만 쓸 수 있습니다."
        ]
    assert claim.product_type is not None and claim.term_months is not None and claim.rate_pct is not None
    if product.product_type not in (ProductType.DEPOSIT, ProductType.SAVING):
        return [f"{product.product_type.korean} 상품은 예금·적금이 아니어서 이자 계산 문장을 쓸 수 없습니다."]
    if claim.product_type != product.product_type:
        how = "월 납입 적금" if claim.product_type == ProductType.SAVING else "목돈을 맡기는 예금"
        return [f"{product.product_type.korean} 상품의 이자를 {how} 방식으로 계산했습니다: '{claim.text}'."]
    term = claim.term_months
    rows = _term_rows(product, term)
    if not rows:
        offered = "·".join(str(t) for t in product.terms) or "없음"
        return [f"이 상품에는 {term}개월 만기가 없습니다 (상품 데이터의 기간: {offered}개월)."]

    kinds: tuple[RateKind, ...] = (claim.rate_kind,) if claim.rate_kind is not None else ("max", "base")
    rate_rows = [
        (row, rate)
        for row in rows
        for kind in kinds
        if (rate := _rate_of(row, kind)) is not None and abs(rate - claim.rate_pct) <= _RATE_TOLERANCE
    ]
    if not rate_rows:
        kind_ko = "" if claim.rate_kind is None else _KIND_KO[claim.rate_kind]
        data = sorted({r for row in rows for k in kinds if (r := _rate_of(row, k)) is not None})
        shown = ", ".join(f"{rate_text(r)}%" for r in data) or "없음"
        return [
            f"'연 {rate_text(claim.rate_pct)}%'는 이 상품의 {term}개월 {kind_ko}금리가 아닙니다 "
            f"(상품 데이터: {shown})."
        ]

    candidates: list[tuple[float, Method]] = []
    for row, rate in rate_rows:
        try:
            row_method = method_of(row.interest_type)
        except ValueError:
            continue
        if claim.method is None or claim.method == row_method:
            candidates.append((rate, row_method))
    if not candidates:
        data_methods = sorted({row.interest_type or "단리" for row, _ in rate_rows})
        assert claim.method is not None
        return [
            f"이 상품의 {term}개월 연 {rate_text(claim.rate_pct)}% 금리는 {'·'.join(data_methods)}인데 "
            f"'{_METHOD_KO[claim.method]}'로 계산했습니다."
        ]

    first: list[str] | None = None
    for rate, method in dict.fromkeys(candidates):
        try:
            pre = _compute(product.product_type, claim.amount_krw, rate, term, method)
        except ValueError:
            return [f"계산할 수 없는 조건입니다: '{claim.text}'."]
        post = after_tax(pre)
        problems = []
        basis = f"{_describe(claim)}, {_METHOD_KO[method]}"
        if claim.pre_tax_krw is not None and claim.pre_tax_krw != pre:
            problems.append(
                f"계산 수치 '{claim.pre_tax_krw:,}원'이 다시 계산한 값 {pre:,}원과 다릅니다 "
                f"(세전 이자, {basis})."
            )
        if claim.post_tax_krw is not None and claim.post_tax_krw != post:
            problems.append(
                f"계산 수치 '{claim.post_tax_krw:,}원'이 다시 계산한 값 {post:,}원과 다릅니다 "
                f"(세후 이자, 이자소득세 15.4%, {basis})."
            )
        if not problems:
            return []  # some row of the product gives exactly these figures
        if first is None:
            first = problems
    return first or []


def check_computed(line: str, product: Product) -> list[str]:
    """Problems (Korean, fit to show a model) with the computed-interest claims in ``line``.

    Each claim must recompute exactly from ``product``'s data: its term offered, its rate one of
    the product's rates of that kind for that term (±0.005), its method the row's 단리/복리, and
    its pre/post-tax figures equal to the recomputation to the 원. An interest figure without such a
    basis is always a problem. Empty when every claim checks out.
    """
    problems: list[str] = []
    for claim in find_computed_claims(line):
        problems.extend(_check_claim(claim, product))
    return problems
