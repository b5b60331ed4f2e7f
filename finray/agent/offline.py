"""The offline answer generator: deterministic Korean advice built only from product data.

Used when no model is configured, when the model fails, and when its answers keep failing
verification. Every number it writes is copied from the :class:`~finray.products.model.Product`
(formatted, never computed), every product is named exactly as in the catalogue inside 「」, and
the same input always gives the same text — so its output passes :func:`finray.agent.verify.verify_answer`
by construction (the tests check that over many real products).

The answer is produced as a stream of chunks (intro, one chunk per product, closing notes) so the
serving layer can send it as it is written; :func:`offline_answer` joins the same chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import Decimal

from finray.advice.interest import quote, render_quote
from finray.agent.state import CitedProduct, Persona
from finray.intent.model import Objective, QueryIntent
from finray.agent.verify import display_name
from finray.products.model import Product, ProductType, RateOption
from finray.retrieval.rerank import Excluded, RankedProduct
from finray.retrieval.suitability import grade_text, profile_name

_HORIZONS = (("m12", 12), ("m6", 6), ("m3", 3), ("m1", 1))
_ANNUITY_RETURNS = (("y1_ago", "전년도 수익률"), ("y2_ago", "전전년도 수익률"), ("avg", "평균 수익률"))
_CONDITION_LIMIT = 90
_FEATURE_LIMIT = 60

# Persona keywords → product types they point to (for the "why this fits you" phrase). Narrower
# interests (ETF, 해외투자, 배당 …) only count when the product's own text mentions them.
_KEYWORD_TYPES: dict[str, tuple[ProductType, ...]] = {
    "목돈마련": (ProductType.SAVING, ProductType.DEPOSIT),
    "내집마련": (ProductType.SAVING, ProductType.DEPOSIT, ProductType.MORTGAGE_LOAN, ProductType.RENT_LOAN),
    "결혼자금": (ProductType.SAVING, ProductType.DEPOSIT),
    "예적금": (ProductType.SAVING, ProductType.DEPOSIT),
    "안정투자": (ProductType.DEPOSIT, ProductType.SAVING),
    "노후준비": (ProductType.ANNUITY, ProductType.FUND),
    "은퇴": (ProductType.ANNUITY, ProductType.FUND),
    "연금": (ProductType.ANNUITY,),
    "절세": (ProductType.ANNUITY,),
    "펀드": (ProductType.FUND,),
    "대출": (ProductType.CREDIT_LOAN, ProductType.MORTGAGE_LOAN, ProductType.RENT_LOAN),
    "전세": (ProductType.RENT_LOAN,),
}


# --------------------------------------------------------------------------------------------
# formatting helpers
# --------------------------------------------------------------------------------------------
def fmt_pct(value: float) -> str:
    """A percentage as banks print it: at least two decimals, never fewer than the data has.

    ``3.2 → "3.20"``, ``1.728 → "1.728"``, ``-19.38 → "-19.38"`` (copied, not rounded).
    """
    exp = Decimal(repr(float(value))).normalize().as_tuple().exponent
    decimals = max(2, -exp if isinstance(exp, int) else 2)
    return f"{value:.{decimals}f}"


def _trim(text: str, limit: int) -> str:
    """One-line text cut at a word boundary (so a number never loses its unit), with "…"."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit)
    return flat[: cut if cut > limit // 2 else limit].rstrip(" ,·:;-") + "…"


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    for line in text.splitlines():
        line = line.strip(" -•▶■▷ᄋ\t")
        if line:
            return line
    return None


def _no_condition(text: str | None) -> bool:
    return not text or re.fullmatch(r"\s*(해당\s*사항\s*없음|해당무|없음|-)\s*", text) is not None


def best_option(product: Product, term_months: int | None = None) -> RateOption | None:
    """The rate row to quote: the asked term if offered, else the highest 최고금리 (shortest term on ties)."""
    rows = [r for r in product.rates if r.term_months is not None and (r.max_rate or r.base_rate) is not None]
    if term_months is not None and any(r.term_months == term_months for r in rows):
        rows = [r for r in rows if r.term_months == term_months]
    if not rows:
        return None

    def key(r: RateOption) -> tuple:
        top = r.max_rate if r.max_rate is not None else r.base_rate
        return (
            -(top or 0.0),
            -(r.base_rate or 0.0),
            r.term_months,
            r.interest_type != "복리",  # on equal rates 월복리 pays more: quote it (as interest.quote does)
            r.interest_type or "",
            r.reserve_type or "",
        )

    return min(rows, key=key)


def _reserve_types(product: Product, opt: RateOption) -> str | None:
    """"자유적립식" or "자유적립식·정액적립식" when both offer the same rates for that term."""
    kinds = sorted(
        {
            r.reserve_type
            for r in product.rates
            if r.reserve_type
            and r.term_months == opt.term_months
            and r.base_rate == opt.base_rate
            and r.max_rate == opt.max_rate
        }
    )
    return "·".join(kinds) or None


def credible_returns(product: Product) -> list[tuple[int, float]]:
    """(months, %) of the fund's recent returns, longest horizon first, without placeholders.

    The fund feed fills horizons a young fund has not lived through with 0.0; a 0.0 return is
    therefore taken as missing when a shorter horizon is non-zero.
    """
    rets = product.recent_returns
    out = []
    for i, (key, months) in enumerate(_HORIZONS):
        if key not in rets:
            continue
        shorter_nonzero = any(rets.get(k, 0.0) != 0.0 for k, _ in _HORIZONS[i + 1 :])
        if rets[key] == 0.0 and shorter_nonzero:
            continue
        out.append((months, rets[key]))
    return out


def fund_return(product: Product) -> tuple[int, float] | None:
    """(months, %) of the longest credible recent return (see :func:`credible_returns`)."""
    rets = credible_returns(product)
    return rets[0] if rets else None


def annuity_return(product: Product) -> tuple[str, float | None] | None:
    """(label, %) of the annuity's most recent reported return; the value is None when the feed
    reports every return as 0.00 (insurers that publish none), which is "정보 없음", never 0%."""
    rets = product.recent_returns
    for key, label in _ANNUITY_RETURNS:
        if key in rets:
            reported = any(v != 0.0 for v in rets.values())
            return label, (rets[key] if reported else None)
    return None


def _rate_range(product: Product) -> tuple[float, float] | None:
    lows = [r.base_rate for r in product.rates if r.base_rate is not None]
    highs = [r.max_rate if r.max_rate is not None else r.base_rate for r in product.rates]
    highs = [h for h in highs if h is not None]
    if not lows and not highs:
        return None
    return min(lows or highs), max(highs or lows)


# --------------------------------------------------------------------------------------------
# facts per product
# --------------------------------------------------------------------------------------------
def key_numbers(product: Product, term_months: int | None = None) -> dict[str, str]:
    """The figures a customer compares, formatted from the data (shown next to the answer)."""
    t = product.product_type
    out: dict[str, str] = {}
    if t in (ProductType.DEPOSIT, ProductType.SAVING):
        opt = best_option(product, term_months)
        if opt is not None:
            out["기간"] = f"{opt.term_months}개월"
            if opt.base_rate is not None:
                out["기본금리"] = f"연 {fmt_pct(opt.base_rate)}%"
            if opt.max_rate is not None:
                out["최고금리"] = f"연 {fmt_pct(opt.max_rate)}%"
            if t is ProductType.SAVING and (kinds := _reserve_types(product, opt)):
                out["적립방식"] = kinds
            if opt.interest_type:
                out["이자계산"] = opt.interest_type
    elif t is ProductType.FUND:
        if product.category:
            out["유형"] = product.category
        if product.risk_grade is not None:
            out["위험등급"] = grade_text(product.risk_grade)
        if product.fee_pct is not None:
            out["총보수"] = f"연 {fmt_pct(product.fee_pct)}%"
        if (ret := fund_return(product)) is not None:
            out[f"{ret[0]}개월 수익률"] = f"{fmt_pct(ret[1])}%"
    elif t.is_loan:
        if (rng := _rate_range(product)) is not None:
            lo, hi = rng
            out["금리 범위"] = f"연 {fmt_pct(lo)}%" if lo == hi else f"연 {fmt_pct(lo)}~{fmt_pct(hi)}%"
        avg = next((r.base_rate for r in product.rates if r.label == "평균금리"), None)
        if avg is not None:
            out["평균금리"] = f"연 {fmt_pct(avg)}%"
    elif t is ProductType.ANNUITY:
        if product.category:
            out["종류"] = product.category
        rate = next((r.base_rate for r in product.rates if r.label == "공시이율"), None)
        if rate is not None:
            out["공시이율"] = f"연 {fmt_pct(rate)}%"
        if (ret := annuity_return(product)) is not None:
            label, value = ret
            out[label] = f"{fmt_pct(value)}%" if value is not None else "정보 없음"
    return out


def _base_fit(product: Product) -> str:
    t = product.product_type
    if t is ProductType.DEPOSIT:
        return "목돈을 안정적으로 굴리시려는 분께 알맞습니다."
    if t is ProductType.SAVING:
        return "매달 꾸준히 저축해 목돈을 마련하시려는 분께 알맞습니다."
    if t is ProductType.FUND:
        cat = product.category or ""
        if "MMF" in cat or ("채권" in cat and "혼합" not in cat):
            return "예적금보다 조금 높은 수익을 기대하시는 분께 알맞습니다."
        if "혼합" in cat:
            return "주식과 채권에 나눠 투자해 변동을 줄이고 싶은 분께 알맞습니다."
        return "원금 손실 가능성을 감수하고 장기적으로 높은 수익을 추구하시는 분께 알맞습니다."
    if t is ProductType.ANNUITY:
        return "노후 준비와 세액공제를 함께 생각하시는 분께 알맞습니다."
    return "자금이 필요하실 때 금리를 비교해 보실 만합니다."


def _fit_phrase(product: Product, persona: Persona | None) -> str:
    """Why the product suits this customer: its type, tied to the persona's keywords if they match."""
    keywords = persona.interest_keywords if persona else ()
    text = f"{product.name} {product.category or ''} {product.description or ''}".casefold()
    matched = [
        k for k in keywords
        if product.product_type in _KEYWORD_TYPES.get(k, ()) or (len(k) >= 2 and k.casefold() in text)
    ]
    if matched:
        return f"관심사({', '.join(matched[:2])})와 관련해 {_base_fit(product)}"
    return _base_fit(product)


def _sentence(text: str) -> str:
    """End a quoted/trimmed fragment as a sentence (no "…." pile-ups)."""
    return text if text.endswith(("…", ".", "다", "요")) else text + "."


def product_reason(product: Product, persona: Persona | None = None, term_months: int | None = None) -> str:
    """One factual Korean paragraph on why this product: its key figures, its fit, its conditions."""
    t = product.product_type
    parts: list[str] = []
    if t in (ProductType.DEPOSIT, ProductType.SAVING):
        opt = best_option(product, term_months)
        kind = "정기예금" if t is ProductType.DEPOSIT else "적금"
        if t is ProductType.SAVING and opt is not None and (kinds := _reserve_types(product, opt)):
            kind = f"{kinds} 적금"
        if opt is not None and opt.interest_type:
            kind = f"{opt.interest_type} {kind}"
        if opt is None:
            parts.append(f"{kind} 상품입니다.")
        elif opt.max_rate is not None and opt.base_rate is not None and opt.max_rate != opt.base_rate:
            parts.append(
                f"{opt.term_months}개월 기준 최고 연 {fmt_pct(opt.max_rate)}%(기본 연 "
                f"{fmt_pct(opt.base_rate)}%)의 {kind}입니다."
            )
        else:
            rate = opt.max_rate if opt.max_rate is not None else opt.base_rate
            parts.append(f"{opt.term_months}개월 기준 연 {fmt_pct(rate)}%의 {kind}입니다.")
        parts.append(_fit_phrase(product, persona))
        has_bonus = opt is not None and opt.max_rate != opt.base_rate
        if has_bonus and not _no_condition(product.preferential_conditions):
            parts.append(f"우대조건: {_trim(product.preferential_conditions or '', _CONDITION_LIMIT)}")
    elif t is ProductType.FUND:
        head = f"{product.category} 펀드" if product.category else "펀드"
        clauses: list[str] = []
        if product.risk_grade is not None:
            clauses.append(f"위험등급은 {grade_text(product.risk_grade)}")
        if product.fee_pct is not None:
            clauses.append(f"총보수는 연 {fmt_pct(product.fee_pct)}%")
        if (ret := fund_return(product)) is not None:
            clauses.append(f"최근 {ret[0]}개월 수익률은 {fmt_pct(ret[1])}%")
        parts.append(f"{head}로 {', '.join(clauses)}입니다." if clauses else f"{head} 상품입니다.")
        if (feature := _first_line(product.description)) is not None:
            parts.append(f"특징: {_sentence(_trim(feature, _FEATURE_LIMIT))}")
        parts.append(_fit_phrase(product, persona))
    elif t.is_loan:
        rng = _rate_range(product)
        label = product.category or t.korean
        if rng is None:
            parts.append(f"{label} 상품입니다.")
        else:
            lo, hi = rng
            span = f"연 {fmt_pct(lo)}%" if lo == hi else f"연 {fmt_pct(lo)}~{fmt_pct(hi)}%"
            banded = any(r.label and r.label.startswith("신용점수") for r in product.rates)
            what = "신용점수 구간별 대출금리" if banded else "대출금리"
            avg = next((r.base_rate for r in product.rates if r.label == "평균금리"), None)
            avg_txt = f"(평균 연 {fmt_pct(avg)}%)" if avg is not None else ""
            parts.append(f"{label} 상품으로 {what}는 {span}{avg_txt}입니다.")
        parts.append(_fit_phrase(product, persona))
    else:  # annuity
        label = product.category or "연금저축"
        rate = next((r.base_rate for r in product.rates if r.label == "공시이율"), None)
        if rate is not None:
            parts.append(f"{label} 상품으로 공시이율은 연 {fmt_pct(rate)}%입니다.")
        else:
            parts.append(f"{label} 상품입니다.")
        if (ret := annuity_return(product)) is not None:
            name, value = ret
            parts.append(f"{name}은 {fmt_pct(value)}%입니다." if value is not None else f"{name}은 정보 없음입니다.")
        parts.append(_fit_phrase(product, persona))
        if product.guaranteed_rate_text:
            parts.append(f"최저보증이율: {_trim(product.guaranteed_rate_text, _CONDITION_LIMIT)}")
    return " ".join(p for p in parts if p)


def interest_sentence(product: Product, intent: QueryIntent | None) -> str | None:
    """The computed interest on the asked amount, at the term the product's line quotes."""
    if intent is None or intent.amount_krw is None or product.product_type not in (ProductType.DEPOSIT, ProductType.SAVING):
        return None
    opt = best_option(product, intent.term_months)
    if opt is None or opt.term_months is None:
        return None
    q = quote(product, intent.amount_krw, opt.term_months)
    return render_quote(q) if q is not None else None


def offline_items(
    ranked: Sequence[RankedProduct], persona: Persona | None = None, term_months: int | None = None,
    intent: QueryIntent | None = None,
) -> list[CitedProduct]:
    """The cited products with data-built reasons and key numbers, in ranked order."""
    if intent is not None and intent.term_months is not None:
        term_months = intent.term_months
    out = []
    for r in ranked:
        reason = product_reason(r.product, persona, term_months)
        if (computed := interest_sentence(r.product, intent)) is not None:
            reason = f"{reason} {computed}"
        out.append(CitedProduct(
            product_id=r.product.product_id,
            name=display_name(r.product.name),
            provider=r.product.provider,
            product_type=r.product.product_type,
            reason=reason,
            key_numbers=key_numbers(r.product, term_months),
            suitability_note=r.suitability_note,
            score=r.score,
            alternative_note=r.alternative_note,
        ))
    return out


# --------------------------------------------------------------------------------------------
# the answer text
# --------------------------------------------------------------------------------------------
def product_line(index: int, item: CitedProduct) -> str:
    """``"1. 「이름」(금융회사) — 이유"``: one line per product (verification scopes by line)."""
    return f"{index}. 「{item.name}」({item.provider}) — {item.reason}"


def _disclosure_text(products: Sequence[Product]) -> str:
    months = sorted({p.disclosure_month for p in products if p.disclosure_month})
    if not months:
        return ""
    m = months[-1]
    return f"{m[:4]}년 {int(m[4:])}월 공시 기준, "


def closing_notes(products: Sequence[Product]) -> list[str]:
    """Standard cautions for the product types shown (true for every product of that type)."""
    types = {p.product_type for p in products}
    notes: list[str] = []
    deposits = [p for p in products if p.product_type in (ProductType.DEPOSIT, ProductType.SAVING)]
    if deposits:
        latest = max((p.disclosure_month for p in deposits if p.disclosure_month), default=None)
        older = [p for p in deposits if latest is None or p.disclosure_month != latest]
        current = [p for p in deposits if p not in older]
        notes.append(
            f"※ 금리는 {_disclosure_text(current) if current else ''}세전 금리이며, 최고금리는 우대조건을 모두 "
            "충족할 때 적용됩니다."
        )
        if older:
            # the catalogue mixes this month's disclosure with an older collection whose rows carry
            # no month: say which products those are, never pass them off as current
            names = ", ".join(f"「{display_name(p.name)}」" for p in older[:3]) + (" 등" if len(older) > 3 else "")
            notes.append(
                f"※ {names}은(는) 공시월이 확인되지 않거나 이전 공시 자료라 현재 금리와 다를 수 있습니다. "
                "가입 전 해당 금융회사에서 확인하세요."
            )
    if ProductType.FUND in types:
        notes.append(
            "※ 펀드는 예금자보호 대상이 아니며 원금 손실이 발생할 수 있고, 과거 수익률이 미래 "
            "수익을 보장하지 않습니다. 가입 전 투자설명서를 확인하세요."
        )
    if any(t.is_loan for t in types):
        notes.append("※ 대출 금리와 한도는 심사 결과에 따라 달라질 수 있습니다.")
    return notes


def _lead_sentence(first: Product, intent: QueryIntent) -> str | None:
    """The direct answer to an ordering question: which product is best, by the asked figure."""
    name = display_name(first.name)
    if Objective.HIGHEST_RATE in intent.objectives and first.product_type in (ProductType.DEPOSIT, ProductType.SAVING):
        opt = best_option(first, intent.term_months)
        if opt is None:
            return None
        kind = "정기예금" if first.product_type is ProductType.DEPOSIT else "적금"
        rates = (f"최고 연 {fmt_pct(opt.max_rate)}%(기본 연 {fmt_pct(opt.base_rate)}%)"
                 if opt.max_rate is not None and opt.base_rate is not None and opt.max_rate != opt.base_rate
                 else f"연 {fmt_pct(opt.max_rate if opt.max_rate is not None else opt.base_rate)}%")
        return (f"{opt.term_months}개월 {kind} 중 금리가 가장 높은 상품은 {first.provider}의 「{name}」로 "
                f"{opt.term_months}개월 기준 {rates}입니다.")
    if Objective.LOWEST_RATE in intent.objectives and first.product_type.is_loan:
        rng = _rate_range(first)
        if rng is None:
            return None
        return f"금리가 가장 낮은 상품은 {first.provider}의 「{name}」로 최저 연 {fmt_pct(rng[0])}%부터입니다."
    if Objective.LOWEST_RISK in intent.objectives and first.risk_grade is not None:
        return f"위험등급이 가장 낮은 상품은 「{name}」({grade_text(first.risk_grade)})입니다."
    if intent.providers:
        return f"{', '.join(intent.provider_mentions or intent.providers)}의 상품만 안내합니다. 첫 번째는 「{name}」입니다."
    return None


def intro_text(
    n: int,
    persona: Persona | None,
    question: str | None,
    excluded: Sequence[Excluded] = (),
    first_name: str | None = None,
    *,
    intent: QueryIntent | None = None,
    first: Product | None = None,
) -> str:
    """Opening sentences tied to the persona and the question, and what was left out and why."""
    profile = persona.risk_profile if persona else None
    parts: list[str] = []
    if profile is None:
        parts.append(
            "투자성향 정보가 없어 투자위험등급이 없는 상품 위주로 안내해 드립니다. "
            "투자성향 진단을 받으시면 펀드도 추천해 드릴 수 있습니다."
        )
    if n == 0:
        parts.append("아쉽게도 지금 조건에 맞는 상품을 찾지 못했습니다. 조건을 바꿔 다시 문의해 주세요.")
    elif question or (intent is not None and not intent.is_empty):
        who = f"고객님의 투자성향({profile_name(profile)})에 맞는" if profile is not None else "조건에 맞는"
        asked = intent.summary() if intent is not None else ""
        if asked:
            parts.append(f"문의하신 조건({asked})에 맞는 상품 {n}개를 찾았습니다.")
        else:
            parts.append(f"문의하신 내용과 관련해 {who} 상품 {n}개를 찾았습니다.")
        if first is not None and intent is not None and (lead := _lead_sentence(first, intent)):
            parts.append(lead)
        elif first_name:
            parts.append(f"가장 관련이 높은 상품은 「{first_name}」입니다.")
    else:
        keywords = persona.interest_keywords if persona else ()
        if profile is None:
            basis = "고객님의 정보를"
        elif keywords:
            basis = f"고객님의 투자성향({profile_name(profile)})과 관심사({', '.join(keywords[:3])})를"
        else:
            basis = f"고객님의 투자성향({profile_name(profile)})을"
        parts.append(f"{basis} 고려해 추천드리는 상품 {n}개입니다.")
    unsuitable = sum(1 for e in excluded if e.kind == "unsuitable")
    disliked = sum(1 for e in excluded if e.kind == "disliked")
    left_out = []
    if unsuitable:
        left_out.append(f"투자성향에 맞지 않는 상품 {unsuitable}개")
    if disliked:
        left_out.append(f"'관심 없음'으로 표시하신 상품 {disliked}개")
    if left_out:
        parts.append(f"{'와 '.join(left_out)}는 제외했습니다.")
    return " ".join(parts)


def stream_offline_answer(
    ranked: Sequence[RankedProduct],
    persona: Persona | None = None,
    question: str | None = None,
    excluded: Sequence[Excluded] = (),
    *,
    term_months: int | None = None,
    intent: QueryIntent | None = None,
) -> Iterator[str]:
    """Yield the offline answer in chunks: intro, one chunk per product, then closing notes.

    Joining the chunks gives exactly :func:`offline_answer`'s text; each chunk starts with the
    line break that separates it from the previous one, so a client can append chunks as they
    arrive and the text never ends in a stray newline.
    """
    items = offline_items(ranked, persona, term_months, intent)
    yield intro_text(len(items), persona, question, excluded, items[0].name if items else None,
                     intent=intent, first=ranked[0].product if ranked else None)
    notices = list(dict.fromkeys(r.alternative_note for r in ranked if r.alternative_note))
    if notices:
        yield "\n" + "\n".join(f"※ {note}" for note in notices)
    for i, item in enumerate(items, start=1):
        yield ("\n\n" if i == 1 else "\n") + product_line(i, item)
    notes = closing_notes([r.product for r in ranked])
    if notes:
        yield "\n\n" + "\n".join(notes)


def offline_answer(
    ranked: Sequence[RankedProduct],
    persona: Persona | None = None,
    question: str | None = None,
    excluded: Sequence[Excluded] = (),
    *,
    term_months: int | None = None,
    intent: QueryIntent | None = None,
) -> tuple[str, list[CitedProduct]]:
    """The whole offline answer text and its cited products (non-streaming)."""
    text = "".join(stream_offline_answer(ranked, persona, question, excluded, term_months=term_months, intent=intent))
    return text, offline_items(ranked, persona, term_months, intent)
