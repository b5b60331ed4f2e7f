"""Answer generation with a chat model (Gemini in production), grounded in the candidate list.

The model sees only the reranked candidates, each with its exact figures, and must answer in a
fixed schema (:class:`AdvisorAnswer`: a summary and, per recommended product, its id and a
reason). Structured output keeps product identity out of free text: the answer shown to the
customer is *rendered by us* from the schema — names, providers and key numbers come from the
catalogue, only the summary and reasons come from the model — and then verified
(:mod:`finray.agent.verify`) before it is used.

Any :class:`~langchain_core.language_models.BaseChatModel` works: the graph calls
``chat_model.with_structured_output(AdvisorAnswer)`` and ``.invoke(messages)`` on whatever is
injected, so tests exercise this exact path with a scripted model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from finray.agent.offline import closing_notes, credible_returns, fmt_pct, key_numbers, product_line
from finray.agent.state import CitedProduct, Persona
from finray.agent.verify import display_name
from finray.intent.model import QueryIntent
from finray.products.model import Product, ProductType
from finray.retrieval.rerank import Excluded, RankedProduct
from finray.retrieval.suitability import allowed_grades_text, grade_text, profile_name

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from finray.config import Settings

_MAX_TEXT = 300  # 우대조건 / 특징 characters shown to the model per product


class AdvisorItem(BaseModel):
    """One recommended product in the model's answer."""

    product_id: str = Field(description="후보 목록의 product_id를 그대로 적습니다.")
    reason: str = Field(
        description=(
            "이 상품을 고객에게 추천하는 이유(한국어 존댓말 1~3문장). 금리·기간·보수·수익률 숫자는 "
            "후보 목록에 적힌 값만 그대로 씁니다."
        )
    )


class AdvisorAnswer(BaseModel):
    """The model's structured answer."""

    summary: str = Field(description="질문이나 고객 상황에 대한 한국어 답변 요약(2~3문장, 존댓말).")
    items: list[AdvisorItem] = Field(description="추천 상품 목록(관련도 높은 순서, 후보 상품만).")


SYSTEM_PROMPT = """당신은 한국 은행의 금융상품 상담 도우미입니다. 아래 규칙을 반드시 지키세요.
1. [후보 상품]에 있는 상품만 추천하고, product_id는 목록의 값을 그대로 씁니다.
2. 금리·기간·보수·수익률·위험등급 숫자는 목록에 적힌 값만 그대로 인용합니다. 반올림하거나 계산한 값(차이, 합계, 예상 이자)은 쓰지 않습니다.
3. 상품명을 쓸 때는 「」 안에 목록의 상품명을 정확히 씁니다. 목록에 없는 상품은 언급하지 않습니다.
4. 고객의 투자성향과 적합성 안내를 존중하고, 펀드는 원금 손실 가능성이 있음을 숨기지 않습니다.
5. 한국어 존댓말로 간결하게 답합니다."""


def _rate_lines(product: Product) -> list[str]:
    rows = []
    for r in product.rates:
        bits = []
        if r.term_months is not None:
            bits.append(f"{r.term_months}개월")
        if r.label:
            bits.append(r.label)
        if r.interest_type:
            bits.append(r.interest_type)
        if r.reserve_type:
            bits.append(r.reserve_type)
        rates = []
        if r.base_rate is not None:
            rates.append(f"기본 연 {fmt_pct(r.base_rate)}%")
        if r.max_rate is not None:
            rates.append(f"최고 연 {fmt_pct(r.max_rate)}%")
        rows.append(f"{' '.join(bits)}: {', '.join(rates)}")
    return rows


def describe_candidate(index: int, ranked: RankedProduct, term_months: int | None = None) -> str:
    """One candidate as the model sees it: identity, every rate row, key figures, conditions."""
    p = ranked.product
    lines = [
        f"{index}. product_id: {p.product_id}",
        f"   상품명: 「{display_name(p.name)}」 / 금융회사: {p.provider} / 유형: {p.product_type.korean}"
        + (f" ({p.category})" if p.category else ""),
    ]
    if p.product_type is ProductType.FUND:
        facts = []
        if p.risk_grade is not None:
            facts.append(f"위험등급 {grade_text(p.risk_grade)}")
        if p.fee_pct is not None:
            facts.append(f"총보수 연 {fmt_pct(p.fee_pct)}%")
        for months, value in sorted(credible_returns(p)):
            facts.append(f"{months}개월 수익률 {fmt_pct(value)}%")
        lines.append("   " + ", ".join(facts))
    else:
        rate_lines = _rate_lines(p)
        if rate_lines:
            lines.append("   금리(세전): " + " / ".join(rate_lines))
    if p.preferential_conditions:
        lines.append(f"   우대조건: {' '.join(p.preferential_conditions.split())[:_MAX_TEXT]}")
    if p.guaranteed_rate_text:
        lines.append(f"   최저보증이율: {' '.join(p.guaranteed_rate_text.split())[:_MAX_TEXT]}")
    if p.description:
        lines.append(f"   특징: {' '.join(p.description.split())[:_MAX_TEXT]}")
    kn = key_numbers(p, term_months)
    if kn:
        lines.append("   핵심 수치: " + ", ".join(f"{k} {v}" for k, v in kn.items()))
    lines.append(f"   적합성: {ranked.suitability_note}")
    return "\n".join(lines)


def build_messages(
    ranked: Sequence[RankedProduct],
    persona: Persona | None,
    question: str | None,
    excluded: Sequence[Excluded] = (),
    *,
    problems: Sequence[str] = (),
    term_months: int | None = None,
    intent: QueryIntent | None = None,
) -> list[BaseMessage]:
    """System rules + one human message with the customer, the question and the candidates.

    ``problems`` (from a failed verification) are appended so the retry knows what to fix.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    profile = persona.risk_profile if persona else None
    customer = [f"투자성향: {profile_name(profile)}"]
    if profile is not None:
        customer.append(f"권유 가능 위험등급: {allowed_grades_text(profile)} (예금·적금·대출은 제한 없음)")
    if persona and persona.persona:
        customer.append(f"고객 정보: {persona.persona}")
    task = (
        f"고객 질문: {question}"
        if question
        else "요청: 고객에게 맞는 상품을 추천하고 각 상품의 추천 이유를 설명해 주세요."
    )
    body = [
        "[고객]",
        *customer,
        "",
        task,
        "",
        "[후보 상품]",
        *(describe_candidate(i, r, term_months) for i, r in enumerate(ranked, start=1)),
    ]
    if intent is not None and not intent.is_empty:
        # The candidates already satisfy every condition and are in the order the question asks
        # for; the model is told so, and must name the first one first.
        body[4:4] = [
            f"이해한 조건: {intent.summary()}",
            "후보 상품은 이 조건을 모두 만족하며 요청한 순서대로 정렬되어 있습니다. 순서를 바꾸지 말고 "
            "1번 상품을 먼저 답하세요. 조건에 맞지 않는 다른 상품을 언급하지 마세요.",
            "",
        ]
    notes = list(dict.fromkeys(r.alternative_note for r in ranked if r.alternative_note))
    if notes:
        body += ["", "[안내 — 답변에 반드시 밝히세요]", *(f"- {n}" for n in notes)]
    if excluded:
        body += ["", "[제외된 상품 — 추천하지 마세요]", *(f"- {e.name}: {e.reason}" for e in excluded)]
    if problems:
        body += [
            "",
            "[이전 답변의 문제 — 반드시 고쳐서 다시 작성하세요]",
            *(f"- {p}" for p in problems),
        ]
    return [SystemMessage(content=SYSTEM_PROMPT), HumanMessage(content="\n".join(body))]


def generate_structured(chat_model: BaseChatModel, messages: list[BaseMessage]) -> AdvisorAnswer:
    """Invoke the model for an :class:`AdvisorAnswer`; raises on transport or parse failure."""
    structured = chat_model.with_structured_output(AdvisorAnswer)
    out = structured.invoke(messages)
    if isinstance(out, AdvisorAnswer):
        return out
    if isinstance(out, dict):
        return AdvisorAnswer.model_validate(out)
    raise ValueError(f"model returned no structured answer ({type(out).__name__})")


def render_model_answer(
    answer: AdvisorAnswer, ranked: Sequence[RankedProduct], term_months: int | None = None
) -> tuple[str, list[CitedProduct]]:
    """The customer-facing text and cited products for a model answer.

    Names, providers and key numbers are taken from the catalogue; only ``summary`` and each
    ``reason`` are the model's. An item whose id is not a candidate is kept as a bare citation
    so verification reports it (silently dropping it would hide a hallucination).
    """
    by_id = {r.product.product_id: r for r in ranked}
    items: list[CitedProduct] = []
    seen: set[str] = set()
    for it in answer.items:
        if it.product_id in seen:
            continue
        seen.add(it.product_id)
        r = by_id.get(it.product_id)
        if r is None:
            items.append(
                CitedProduct(
                    product_id=it.product_id, name=it.product_id, provider="",
                    product_type=ProductType.DEPOSIT, reason=it.reason.strip(),
                )
            )
            continue
        items.append(
            CitedProduct(
                product_id=r.product.product_id,
                name=display_name(r.product.name),
                provider=r.product.provider,
                product_type=r.product.product_type,
                reason=" ".join(it.reason.split()),
                key_numbers=key_numbers(r.product, term_months),
                suitability_note=r.suitability_note,
                score=r.score,
                alternative_note=r.alternative_note,
            )
        )
    known = [i for i in items if i.product_id in by_id]
    lines = [answer.summary.strip(), ""] if answer.summary.strip() else []
    notes_shown = list(dict.fromkeys(i.alternative_note for i in known if i.alternative_note))
    if notes_shown:  # the relaxation is data, stated by us whatever the model wrote
        lines[1:1] = [f"※ {n}" for n in notes_shown] if lines else [*(f"※ {n}" for n in notes_shown), ""]
    lines += [product_line(i, item) for i, item in enumerate(known, start=1)]
    notes = closing_notes([by_id[i.product_id].product for i in known])
    if notes:
        lines += ["", *notes]
    return "\n".join(lines), items


def make_gemini_chat_model(settings: Settings) -> BaseChatModel:
    """``ChatGoogleGenerativeAI`` configured from settings (model, key, optional base URL).

    Few retries and a timeout: the graph has an offline fallback, so waiting minutes on a
    struggling API only delays an answer the customer could already have.
    """
    from langchain_google_genai import ChatGoogleGenerativeAI

    if not settings.google_api_key:
        raise ValueError("GOOGLE_API_KEY: required for the Gemini chat model")
    return ChatGoogleGenerativeAI(
        model=settings.gemini_chat_model,
        google_api_key=settings.google_api_key,
        base_url=settings.gemini_base_url,
        temperature=0.2,
        max_retries=1,
        timeout=30,
    )


def chat_model_from_settings(settings: Settings) -> BaseChatModel | None:
    """The configured chat model, or ``None`` for ``FINRAY_LLM=offline``."""
    return make_gemini_chat_model(settings) if settings.llm == "gemini" else None
