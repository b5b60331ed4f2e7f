"""What an answer shows besides its text: the understood intent, a rate comparison, computed interest.

These are data, built from the catalogue (never from a model's text), so a client can draw the
chips, the comparison table and the interest figures itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from finray.intent.model import AmountPeriod, IntentChip, QueryIntent
from finray.products.model import Product, ProductType


class IntentView(BaseModel):
    """The understanding of a question as a client shows it: "12개월 · 정기예금 · 금리 높은 순"."""

    summary: str
    chips: list[IntentChip] = Field(default_factory=list)
    intent: QueryIntent

    @classmethod
    def of(cls, intent: QueryIntent) -> IntentView:
        return cls(summary=intent.summary(), chips=intent.chips(), intent=intent)


class ComparisonRow(BaseModel):
    """One product in a rate comparison, at the asked term (or its best term when none was asked)."""

    product_id: str
    name: str
    provider: str
    product_type: ProductType
    term_months: int | None = None
    base_rate: float | None = None  # 기본금리 (%/년); loans: lowest rate
    max_rate: float | None = None  # 최고우대금리 (%/년); loans: highest rate
    interest_type: str | None = None  # 단리 | 복리
    conditions: str | None = None  # 우대조건, shortened; None when there are none
    disclosure_month: str | None = None  # YYYYMM
    older_disclosure: bool = False  # disclosed before the newest month shown, or with no month
    alternative_note: str | None = None  # set when the row does not meet a constraint (nearest alternative)


class Comparison(BaseModel):
    """Rows sorted by the asked objective (최고금리 high → low for savings, low → high for loans)."""

    term_months: int | None = None
    sort_by: Literal["max_rate", "base_rate", "loan_rate"] = "max_rate"
    latest_disclosure: str | None = None
    rows: list[ComparisonRow] = Field(default_factory=list)


class ComputedInterest(BaseModel):
    """Interest computed for the asked amount (marked as computed wherever it is shown)."""

    product_id: str
    name: str
    product_type: ProductType
    amount_krw: int
    amount_period: AmountPeriod
    term_months: int
    rate_pct: float
    rate_kind: Literal["base", "max"]
    method: Literal["simple", "monthly_compound"]
    pre_tax_krw: int
    post_tax_krw: int
    paid_in_krw: int
    tax_rate_pct: float = 15.4


# --------------------------------------------------------------------------------------------
# builders (pure: the same products and intent always give the same table and figures)
# --------------------------------------------------------------------------------------------
_SAVINGS_TYPES = (ProductType.DEPOSIT, ProductType.SAVING)
CONDITIONS_LIMIT = 60


def short_conditions(text: str | None, limit: int = CONDITIONS_LIMIT) -> str | None:
    """우대조건 on one line, cut at a word boundary; None when the product has none."""
    if not text or re.fullmatch(r"\s*(해당\s*사항\s*없음|해당무|없음|-)\s*", text):
        return None
    flat = " ".join(text.replace("\n", " ").split()).lstrip("-•▶■▷ᄋ ")
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit)
    return flat[: cut if cut > limit // 2 else limit].rstrip(" ,·:;-") + "…"


def notices_of(ranked: Sequence[Any], extra: Sequence[str] = ()) -> list[str]:
    """The relaxation notes the answer must state: the search's notices, then the ranked products' own."""
    notes = list(extra)
    for r in ranked:
        note = getattr(r, "alternative_note", None) or getattr(r, "note", None)
        if note:
            notes.append(note)
    return list(dict.fromkeys(notes))


def comparison_for(intent: QueryIntent, products: Sequence[Product], ranked: Sequence[Any] = ()) -> Comparison | None:
    """A side-by-side table when the question is about rates (an objective or a term with a type).

    Deposits and savings are compared at the asked term (else each at its best term); loans by
    their published rate range. Rows keep the answer's order.
    """
    from finray.advice.constraints import rate_row

    if not products:
        return None
    types = {p.product_type for p in products}
    rate_question = intent.wants_rate_order or (intent.term_months is not None and types <= set(_SAVINGS_TYPES))
    if not rate_question:
        return None
    notes = {getattr(r, "product", r).product_id: getattr(r, "alternative_note", None) for r in ranked}
    latest = max((p.disclosure_month for p in products if p.disclosure_month), default=None)
    rows: list[ComparisonRow] = []
    loans = all(t.is_loan for t in types)
    for p in products:
        row = ComparisonRow(
            product_id=p.product_id, name=" ".join(p.name.split()), provider=p.provider, product_type=p.product_type,
            disclosure_month=p.disclosure_month,
            # no month at all means the older collection (see finray/bundled/finlife/SOURCES.md)
            older_disclosure=bool(latest and (p.disclosure_month is None or p.disclosure_month < latest)),
            alternative_note=notes.get(p.product_id),
        )
        if p.product_type in _SAVINGS_TYPES:
            opt = rate_row(p, intent.term_months) or rate_row(p, None)
            if opt is not None:
                row = row.model_copy(update={
                    "term_months": opt.term_months, "base_rate": opt.base_rate, "max_rate": opt.max_rate,
                    "interest_type": opt.interest_type,
                    "conditions": short_conditions(p.preferential_conditions) if opt.max_rate != opt.base_rate else None,
                })
        elif p.product_type.is_loan:
            vals = [v for r in p.rates if r.label != "평균금리" for v in (r.base_rate, r.max_rate) if v is not None]
            if vals:
                row = row.model_copy(update={"base_rate": min(vals), "max_rate": max(vals)})
        rows.append(row)
    return Comparison(term_months=intent.term_months, sort_by="loan_rate" if loans else "max_rate",
                      latest_disclosure=latest, rows=rows)


def computed_for(intent: QueryIntent, products: Sequence[Product]) -> list[ComputedInterest]:
    """Interest on the asked amount for each deposit/saving, at the asked term or its best term."""
    from finray.advice.constraints import rate_row
    from finray.advice.interest import quote

    if intent.amount_krw is None:
        return []
    out: list[ComputedInterest] = []
    for p in products:
        if p.product_type not in _SAVINGS_TYPES:
            continue
        term = intent.term_months
        if term is None or term not in p.terms:
            best = rate_row(p, None)
            term = best.term_months if best is not None else None
        if term is None:
            continue
        q = quote(p, intent.amount_krw, term)
        if q is None:
            continue
        out.append(ComputedInterest(
            product_id=p.product_id, name=" ".join(p.name.split()), product_type=p.product_type,
            amount_krw=q.amount_krw, amount_period="monthly" if p.product_type is ProductType.SAVING else "once",
            term_months=q.term_months, rate_pct=q.rate_pct, rate_kind=q.rate_kind, method=q.method,
            pre_tax_krw=q.pre_tax_krw, post_tax_krw=q.post_tax_krw, paid_in_krw=q.paid_in_krw,
        ))
    return out
