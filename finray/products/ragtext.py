"""Korean description of a product for embedding and n-gram keyword search.

Deterministic (same product → same text, so embeddings are reproducible) and built only from the
product's own fields: nothing is inferred or added. Rates are written "2.70%"; long free text
(우대조건, 기타) is trimmed so the whole text stays within :data:`MAX_CHARS` and the facts that
matter for retrieval (provider, name, type, rates) always come first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from finray.products.codes import FIN_GROUPS, RISK_GRADE_KO

if TYPE_CHECKING:
    from finray.products.model import Product, RateOption

MAX_CHARS = 1200
_RETURN_LABELS = {"m1": "1개월", "m3": "3개월", "m6": "6개월", "m12": "12개월"}
_ANNUITY_RETURN_LABELS = {"y1_ago": "전년도", "y2_ago": "전전년도", "y3_ago": "3년 전", "avg": "평균"}
_SPACES = re.compile(r"\s+")


def pct(value: float) -> str:
    return f"{value:.2f}%"


def _flat(value: object, limit: int) -> str | None:
    """One line, at most ``limit`` characters (cut on a word boundary when possible)."""
    if value is None:
        return None
    out = _SPACES.sub(" ", str(value)).strip()
    if not out:
        return None
    if len(out) <= limit:
        return out
    cut = out[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:·-") + "…"


def _say(label: str, value: object, limit: int) -> str | None:
    """``"label: value."`` for free text trimmed to ``limit``; None when there is no value."""
    flat = _flat(value, limit)
    if not flat:
        return None
    return f"{label}: {flat}" + ("" if flat.endswith(("…", ".", "!", "?")) else ".")


def _won(amount: int) -> str:
    return f"{amount:,}원"


def _header(p: Product) -> str:
    tags = [t for t in (p.category, FIN_GROUPS.get(p.fin_group or "")) if t]
    tail = f" ({', '.join(tags)})" if tags else ""
    return f"{p.provider} {p.name} — {p.product_type.korean}{tail}."


def _deposit_rate(r: RateOption) -> str:
    head = " ".join(
        x for x in (f"{r.term_months}개월" if r.term_months else None, r.reserve_type, r.interest_type) if x
    )
    rates = []
    if r.base_rate is not None:
        rates.append(f"기본 {pct(r.base_rate)}")
    if r.max_rate is not None:
        rates.append(f"최고 {pct(r.max_rate)}")
    return f"{head} {' / '.join(rates) or '금리 미공시'}".strip()


def _deposit_lines(p: Product) -> list[str]:
    lines = []
    if p.rates:
        lines.append("기간별 금리: " + "; ".join(_deposit_rate(r) for r in p.rates) + ".")
    if line := _say("우대조건", p.preferential_conditions, 300):
        lines.append(line)
    if p.join_channels:
        lines.append(f"가입방법: {', '.join(p.join_channels)}.")
    member, deny = p.join_member, p.join_deny.korean if p.join_deny else None
    if member and deny:
        lines.append(f"가입대상: {member} ({deny}).")
    elif member or deny:
        lines.append(f"가입대상: {member or deny}.")
    if p.max_limit is not None:
        lines.append(f"최고한도: {_won(p.max_limit)}.")
    if line := _say("만기 후 이자율", p.maturity_interest, 150):
        lines.append(line)
    if line := _say("기타", p.description, 200):
        lines.append(line)
    return lines


def _fund_lines(p: Product) -> list[str]:
    lines = []
    if p.category:
        lines.append(f"유형: {p.category}.")
    if p.risk_grade is not None:
        lines.append(f"위험등급: {p.risk_grade}등급 {RISK_GRADE_KO[p.risk_grade]}.")
    if p.fee_pct is not None:
        lines.append(f"총보수: 연 {pct(p.fee_pct)}.")
    if p.recent_returns:
        parts = [f"{_RETURN_LABELS.get(k, k)} {pct(v)}" for k, v in p.recent_returns.items()]
        lines.append(f"수익률: {' / '.join(parts)}.")
    lines.append(f"운용사: {p.provider}.")
    if region := p.extra.get("region"):
        lines.append(f"투자지역: {region}.")
    if share := p.extra.get("share_class"):
        lines.append(f"클래스: {share}.")
    if line := _say("특징", p.description, 400):
        lines.append(line)
    if line := _say("주요 보유종목", p.extra.get("top_holdings"), 120):
        lines.append(line)
    return lines


def _annuity_lines(p: Product) -> list[str]:
    lines = []
    kinds = [k for k in (p.category, p.extra.get("prdt_type_nm")) if k]
    if kinds:
        lines.append(f"종류: {', '.join(kinds)}.")
    for r in p.rates:
        if r.base_rate is not None:
            lines.append(f"{r.label or '금리'}: {pct(r.base_rate)}.")
    if line := _say("최저보증이율", p.guaranteed_rate_text, 200):
        lines.append(line)
    if p.recent_returns:
        parts = [f"{_ANNUITY_RETURN_LABELS.get(k, k)} {pct(v)}" for k, v in p.recent_returns.items()]
        lines.append(f"과거 수익률: {' / '.join(parts)}.")
    if p.join_channels:
        lines.append(f"가입방법: {', '.join(p.join_channels)}.")
    if line := _say("판매사", p.extra.get("sale_co"), 150):
        lines.append(line)
    if line := _say("기타", p.description, 200):
        lines.append(line)
    return lines


def _rate_range(rates: Iterable[RateOption]) -> tuple[float, float] | None:
    vals = [v for r in rates for v in (r.base_rate, r.max_rate) if v is not None]
    return (min(vals), max(vals)) if vals else None


def _loan_lines(p: Product) -> list[str]:
    lines = [f"대출 유형: {p.category or p.product_type.korean}."]
    banded = [r for r in p.rates if r.label != "평균금리"]
    if span := _rate_range(banded):
        lines.append(f"금리 범위: {pct(span[0])} ~ {pct(span[1])}.")
    credit = p.product_type.value == "credit_loan"
    rows = []
    for r in p.rates:
        if r.base_rate is not None and r.max_rate is not None and r.max_rate != r.base_rate:
            value = f"{pct(r.base_rate)} ~ {pct(r.max_rate)}"
        elif r.base_rate is not None:
            value = pct(r.base_rate)
        elif r.max_rate is not None:
            value = f"최고 {pct(r.max_rate)}"
        else:
            continue
        label = (r.label or "").removeprefix("신용점수 ") if credit else r.label
        rows.append(f"{label} {value}" if label else value)
    if rows:
        lines.append(f"{'신용점수별 대출금리' if credit else '유형별 금리'}: {'; '.join(rows)}.")
    extra: dict[str, Any] = p.extra
    for key, label, limit in (
        ("loan_lmt", "대출한도", 150),
        ("erly_rpay_fee", "중도상환수수료", 150),
        ("dly_rate", "연체이자율", 150),
        ("loan_inci_expn", "부대비용", 150),
        ("cb_name", "신용평가사", 40),
    ):
        if line := _say(label, extra.get(key), limit):
            lines.append(line)
    if p.join_channels:
        lines.append(f"가입방법: {', '.join(p.join_channels)}.")
    if line := _say("기타", p.description, 200):
        lines.append(line)
    return lines


def render_rag_text(product: Product) -> str:
    """The text embedded and keyword-indexed for ``product`` (≤ :data:`MAX_CHARS` characters)."""
    kind = product.product_type.value
    if kind in ("deposit", "saving"):
        body = _deposit_lines(product)
    elif kind == "fund":
        body = _fund_lines(product)
    elif kind == "annuity":
        body = _annuity_lines(product)
    else:
        body = _loan_lines(product)
    out = _flat(_header(product), MAX_CHARS) or ""  # only an absurdly long name gets cut here
    for line in body:
        if len(out) + 1 + len(line) > MAX_CHARS:
            room = MAX_CHARS - len(out) - 1
            if room > 40:  # a trimmed line is still worth having; a stub is not
                out += " " + (_flat(line, room) or "")
            break
        out += " " + line
    return out
