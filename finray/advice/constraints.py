"""Whether a product answers the question: binding constraints, and the order objectives ask for.

Constraints come from a :class:`~finray.intent.model.QueryIntent`. Type, term, provider and
amount-within-limit are *store filters* (:func:`store_filters`, applied inside both stores'
vector and keyword search and the in-memory index); eligibility words and channels are checked on
the product's own texts (:func:`violations`), since no store indexes free text that way. The two
together decide what satisfies a question; objectives (:func:`objective_score`) only order that set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from finray.intent.model import Channel, Eligibility, Objective, QueryIntent
from finray.intent.providers import ProviderDirectory
from finray.products.model import Product, ProductType, RateOption
from finray.stores.base import ProductFilters

_ELIGIBILITY_RE: dict[Eligibility, re.Pattern[str]] = {
    Eligibility.YOUTH: re.compile(r"청년|사회\s*초년"),
    Eligibility.FIRST_CUSTOMER: re.compile(r"첫\s*거래|최초\s*(?:거래|가입)|신규\s*고객"),
    Eligibility.SALARY_TRANSFER: re.compile(r"급여|월급"),
    Eligibility.SENIOR: re.compile(r"시니어|실버|어르신|만\s*6[05]\s*세\s*이상|노인"),
}
_CHANNEL_WORDS: dict[Channel, tuple[str, ...]] = {
    Channel.MOBILE: ("스마트폰", "모바일"),
    Channel.ONLINE: ("인터넷", "스마트폰", "모바일"),
    Channel.BRANCH: ("영업점",),
}
#: Product types sold by term (가입기간): a term in the question binds only these.
TERM_TYPES = (ProductType.DEPOSIT, ProductType.SAVING)


def providers_for(intent: QueryIntent, directory: ProviderDirectory | None) -> list[str]:
    """Named providers, else every catalogue provider of the named classes."""
    if intent.providers:
        return list(intent.providers)
    if intent.provider_classes and directory is not None:
        out: list[str] = []
        for klass in intent.provider_classes:
            out += [p for p in directory.of_class(klass) if p not in out]
        return out or ["\u0000none"]  # a class with no provider in the catalogue matches nothing
    return []


def store_filters(intent: QueryIntent, directory: ProviderDirectory | None, base: ProductFilters | None = None) -> ProductFilters:
    """The store-side filters of ``intent`` on top of ``base`` (the request's own filters)."""
    base = base or ProductFilters()
    providers = providers_for(intent, directory)
    # A term binds products that have terms; "1년 정도 굴릴 예금이나 펀드" still includes funds,
    # so the store filter on terms only applies when every asked type is a term product.
    term_types = bool(intent.product_types) and all(t in TERM_TYPES for t in intent.product_types)
    term = intent.term_months if term_types or not intent.product_types else None
    return base.model_copy(update={
        "product_types": list(intent.product_types) or base.product_types,
        "term_months": term if term is not None else base.term_months,
        "providers": providers or base.providers,
        "min_limit_krw": intent.amount_krw if intent.amount_krw is not None else base.min_limit_krw,
    })


def _texts(p: Product) -> str:
    return " ".join(t for t in (p.name, p.join_member, p.preferential_conditions, p.description) if t)


_AGE_RANGE_RE = re.compile(r"만\s*(\d{2})\s*세?\s*(?:이상)?\s*[~∼-]\s*(?:만\s*)?(\d{2})\s*세")
_AGE_CAP_RE = re.compile(r"만\s*(\d{2})\s*세\s*이하")


def is_youth_product(p: Product) -> bool:
    """A product for young adults: its name, 가입대상 or 우대조건 says 청년, or its 가입대상 admits
    adults up to 39 only (청년기본법 defines 청년 as 19–34; banks' 청년 products reach 39). An age
    range in 우대조건 alone is a bonus for some customers, not a youth product."""
    if any(_ELIGIBILITY_RE[Eligibility.YOUTH].search(x or "") for x in (p.name, p.join_member, p.preferential_conditions)):
        return True
    join = p.join_member or ""
    if (m := _AGE_RANGE_RE.search(join)) and 17 <= int(m.group(1)) and int(m.group(2)) <= 39:
        return True
    return bool((m := _AGE_CAP_RE.search(join)) and 19 <= int(m.group(1)) <= 39)


def violations(product: Product, intent: QueryIntent, directory: ProviderDirectory | None = None) -> list[str]:
    """Korean reasons ``product`` breaks a constraint of ``intent`` (empty: it satisfies all)."""
    out: list[str] = []
    if intent.product_types and product.product_type not in intent.product_types:
        out.append(f"{product.product_type.korean} 상품")
    if intent.term_months is not None and product.product_type in TERM_TYPES and intent.term_months not in product.terms:
        out.append(f"{intent.term_months}개월 없음")
    providers = providers_for(intent, directory)
    if providers and product.provider not in providers:
        out.append(f"{product.provider} 상품")
    if intent.amount_krw is not None and product.max_limit is not None and product.max_limit < intent.amount_krw:
        out.append(f"최고한도 {product.max_limit:,}원")
    if intent.categories and product.category not in intent.categories:
        out.append(f"{product.category or '유형 정보 없음'}")
    for e in intent.eligibility:
        if e is Eligibility.YOUTH:
            if not is_youth_product(product):
                out.append("청년 대상 아님")
        elif not _ELIGIBILITY_RE[e].search(_texts(product)):
            out.append(f"{e.korean} 대상 아님")
    for ch in intent.channels:
        if product.join_channels and not any(w in c for c in product.join_channels for w in _CHANNEL_WORDS[ch]):
            out.append(f"{ch.korean} 불가")
    return out


# --------------------------------------------------------------------------------------------
# rates at a term, and the order objectives ask for
# --------------------------------------------------------------------------------------------
def rate_row(product: Product, term_months: int | None) -> RateOption | None:
    """The row to quote: at ``term_months`` when asked (None if not offered), else the best row.

    "Best" is the highest 최고금리, then 기본금리, then the shorter term (a comparison site's
    default order).
    """
    rows = [r for r in product.rates if (r.max_rate if r.max_rate is not None else r.base_rate) is not None]
    if term_months is not None:
        rows = [r for r in rows if r.term_months == term_months]
    if not rows:
        return None
    return min(rows, key=lambda r: (-(_top(r)), -(r.base_rate or 0.0), r.term_months or 0,
                                    r.interest_type or "", r.reserve_type or ""))


def _top(r: RateOption) -> float:
    return r.max_rate if r.max_rate is not None else (r.base_rate or 0.0)


def headline_rate(product: Product, term_months: int | None) -> float | None:
    """The 최고금리 (or 기본금리 when none is published) a rate question is ranked by."""
    row = rate_row(product, term_months)
    return _top(row) if row is not None else None


def loan_rate(product: Product) -> float | None:
    """The lowest published rate of a loan (평균금리 rows excluded when banded rows exist)."""
    vals = [v for r in product.rates for v in (r.base_rate, r.max_rate) if v is not None]
    return min(vals) if vals else None


def objective_score(product: Product, intent: QueryIntent) -> float | None:
    """Larger is better for the intent's first ordering objective; None when it does not order."""
    for obj in intent.objectives:
        if obj is Objective.HIGHEST_RATE and product.product_type in (ProductType.DEPOSIT, ProductType.SAVING):
            rate = headline_rate(product, intent.term_months)
            return rate if rate is not None else 0.0
        if obj is Objective.HIGHEST_RATE and product.product_type is ProductType.ANNUITY:
            rate = next((r.base_rate for r in product.rates if r.base_rate is not None), None)
            return rate if rate is not None else 0.0
        if obj is Objective.LOWEST_RATE and product.product_type.is_loan:
            rate = loan_rate(product)
            return 100.0 / rate if rate else 0.0
        if obj is Objective.LOWEST_RISK and product.product_type is ProductType.FUND:
            return float(product.risk_grade or 0)  # 6 매우낮은위험 … 1 매우높은위험
        if obj is Objective.INCOME and product.product_type is ProductType.FUND:
            text = f"{product.name} {product.category or ''} {product.description or ''}"
            return 1.0 if re.search(r"배당|인컴|월지급", text) else 0.0
    return None
