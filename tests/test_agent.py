"""The advisor graph end to end with injected fakes, the offline generator, and answer verification.

The chat model is a scripted ``BaseChatModel`` subclass: the graph calls
``with_structured_output(AdvisorAnswer)`` on it exactly as on ``ChatGoogleGenerativeAI``, and
langchain-core's own tool-call parser turns its scripted tool calls into ``AdvisorAnswer``. One
test also runs the real ``ChatGoogleGenerativeAI`` against a loopback ``generateContent`` fake.
Products are the hand-built real-row fixtures of ``tests/test_suitability.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from finray.agent.gemini import AdvisorAnswer, AdvisorItem, make_gemini_chat_model
from finray.agent.graph import build_advisor_graph
from finray.agent.offline import offline_answer, stream_offline_answer
from finray.agent.state import Persona
from finray.agent.verify import extract_claims, verify_answer
from finray.config import load_settings
from finray.products.model import Product, ProductType
from finray.retrieval.rerank import rerank
from finray.stores.base import Feedback, ProductFilters, ProductHit
from finray.users.db import UserInfoRecord, UserRecord
from tests.fakes.loopback import LoopbackServer
from tests.test_suitability import (
    AB_HIGH_YIELD,
    ALL_PRODUCTS,
    E_GREEN,
    KB_INDIA,
    KB_MMF,
    KB_STAR,
    KB_VALUE_30,
    KCGI_CHINA,
    KOREA_VALUE_10Y,
    MIZ,
    WON_PLUS,
    WOORI_CREDIT,
    WOORI_SUPER,
)

# =============================================================================================
# FIXTURE: a customer (persona text from the real persona builder) and injected dependencies
# =============================================================================================
USER = UserRecord(
    user_id="U0000042",
    age=34,
    gender="M",
    risk_profile=3,  # 위험중립형
    assets={"예적금": 55_000_000, "주식": 37_000_000, "펀드": 31_000_000},
    info=UserInfoRecord(annual_income_krw=52_000_000, target_retirement_age=60,
                        desired_monthly_living_cost_krw=3_000_000),
    keywords=("ETF", "내집마련"),
)
PERSONA = Persona.from_user_record(USER)
QUESTION = "1년 정도 목돈 5,000만원을 굴릴 예금이나 펀드 3개만 추천해 주세요. 35세이고 3%대 이상이면 좋겠어요."

# retrieval order for the question: a 2등급 fund (unsuitable for 위험중립형) sits at rank 2
RETRIEVED = [E_GREEN, KCGI_CHINA, MIZ, KB_VALUE_30, WON_PLUS]


class Deps:
    """In-memory stand-ins for the user DB, the store's search, feedback and vectors."""

    def __init__(self, order: list[Product] = RETRIEVED, personas: dict[str, Persona] | None = None,
                 feedback: list[Feedback] | None = None, vectors: dict[str, list[float]] | None = None) -> None:
        self.order = order
        self.personas = {PERSONA.user_id: PERSONA} if personas is None else personas
        self.fb = feedback or []
        self.vectors = vectors or {}
        self.retrieve_calls: list[ProductFilters] = []

    def load_persona(self, user_id: str) -> Persona | None:
        return self.personas.get(user_id)

    def retrieve(self, user_id: str, question: str | None, filters: ProductFilters) -> list[ProductHit]:
        self.retrieve_calls.append(filters)
        out = [
            p for p in self.order
            if (not filters.product_types or p.product_type in filters.product_types)
            and (filters.max_risk_grade_riskiest is None or p.risk_grade is None
                 or p.risk_grade >= filters.max_risk_grade_riskiest)
            and (not filters.providers or p.provider in filters.providers)
            and (filters.term_months is None or filters.term_months in p.terms)
            and (filters.min_limit_krw is None or p.max_limit is None or p.max_limit >= filters.min_limit_krw)
        ]
        return [ProductHit(product=p, score=1 / (60 + i), rank=i) for i, p in enumerate(out, start=1)]

    def feedback_for(self, user_id: str) -> list[Feedback]:
        return [f for f in self.fb if f.user_id == user_id]

    def vectors_for(self, ids: list[str]) -> dict[str, list[float]]:
        return {i: self.vectors[i] for i in ids if i in self.vectors}

    def graph(self, chat_model: BaseChatModel | None):
        return build_advisor_graph(load_persona=self.load_persona, retrieve=self.retrieve,
                                   feedback_for=self.feedback_for, vectors_for=self.vectors_for,
                                   chat_model=chat_model)


class ScriptedChatModel(BaseChatModel):
    """Answers with scripted ``AdvisorAnswer`` tool calls (or raises scripted errors), in order.

    The last script entry repeats once the script runs out. ``calls`` keeps every prompt.
    """

    script: list[Any] = Field(default_factory=list)
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-test-double"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any):  # type: ignore[override]
        return self.bind(tools=tools, tool_choice=tool_choice, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        self.calls.append(list(messages))
        step = self.script[min(len(self.calls), len(self.script)) - 1]
        if isinstance(step, Exception):
            raise step
        msg = AIMessage(content="", tool_calls=[
            {"name": "AdvisorAnswer", "args": step.model_dump(), "id": f"call_{len(self.calls)}"}
        ])
        return ChatResult(generations=[ChatGeneration(message=msg)])


GOOD = AdvisorAnswer(
    summary=(
        "문의하신 1년 목돈 운용에는 「e-그린세이브예금」이 12개월 최고 연 3.95%로 가장 유리합니다. "
        "조금 더 높은 수익을 원하시면 위험등급 4등급인 「KB 밸류 포커스 30 증권자투자신탁(채권혼합) C-E」도 고려해 보세요."
    ),
    items=[
        AdvisorItem(product_id=E_GREEN.product_id, reason="12개월 기준 기본 연 3.65%, 우대조건 충족 시 최고 연 3.95%입니다."),
        AdvisorItem(product_id=MIZ.product_id, reason="복리 상품으로 12개월 최고 연 3.68%를 받을 수 있습니다."),
        AdvisorItem(product_id=KB_VALUE_30.product_id,
                    reason="채권혼합형으로 4등급(보통위험)이며 총보수 연 0.905%, 최근 12개월 수익률 30.08%입니다."),
    ],
)
HALLUCINATED = GOOD.model_copy(update={"items": [
    AdvisorItem(product_id=E_GREEN.product_id, reason="12개월 최고 연 9.99%의 특판 금리를 드립니다."),
    *GOOD.items[1:],
]})


def run(graph, **inp: Any) -> dict[str, Any]:
    return graph.invoke({"user_id": PERSONA.user_id, "question": QUESTION, "k": 3, **inp})


# =============================================================================================
# the graph
# =============================================================================================
def test_a_grounded_model_answer_passes() -> None:
    deps = Deps()
    model = ScriptedChatModel(script=[GOOD])
    out = run(deps.graph(model))
    assert out["generator"] == "gemini"
    assert out["regenerated"] is False and out["fallback_reason"] is None
    assert out["verification"].ok, out["verification"].problems
    assert [c.product_id for c in out["cited"]] == [E_GREEN.product_id, MIZ.product_id, KB_VALUE_30.product_id]
    # names and key numbers come from the catalogue, not the model
    assert "1. 「e-그린세이브예금」(한국스탠다드차타드은행) — 12개월 기준 기본 연 3.65%" in out["answer"]
    assert out["cited"][0].key_numbers == {"기간": "12개월", "기본금리": "연 3.65%", "최고금리": "연 3.95%",
                                           "이자계산": "단리"}
    # the 2등급 fund was retrieved but excluded for 위험중립형, with the reason
    assert [(e.product_id, e.kind) for e in out["excluded"]] == [(KCGI_CHINA.product_id, "unsuitable")]
    assert "4~6등급" in out["excluded"][0].reason
    # the prompt was grounded: candidates with their exact numbers, the excluded fund marked
    prompt = model.calls[0][-1].content
    assert "product_id: deposit:0010002:00320342" in prompt and "12개월 단리: 기본 연 3.65%, 최고 연 3.95%" in prompt
    assert "[제외된 상품 — 추천하지 마세요]" in prompt and "위험중립형" in prompt
    assert set(out) == {"answer", "cited", "excluded", "generator", "verification", "regenerated", "fallback_reason"}


def test_b_hallucinated_rate_is_caught_and_regenerated_once() -> None:
    model = ScriptedChatModel(script=[HALLUCINATED, GOOD])
    out = run(Deps().graph(model))
    assert len(model.calls) == 2
    assert out["generator"] == "gemini" and out["regenerated"] is True
    assert out["verification"].ok
    assert "9.99" not in out["answer"]
    retry_prompt = model.calls[1][-1].content
    assert "[이전 답변의 문제" in retry_prompt and "9.99%" in retry_prompt


def test_c_always_hallucinating_falls_back_to_offline() -> None:
    model = ScriptedChatModel(script=[HALLUCINATED])
    out = run(Deps().graph(model))
    assert len(model.calls) == 2  # first answer + one retry, no more
    assert out["generator"] == "gemini→offline"
    assert out["regenerated"] is True
    assert out["fallback_reason"].startswith("검증 실패") and "9.99%" in out["fallback_reason"]
    assert out["verification"].ok
    assert "9.99" not in out["answer"] and "「e-그린세이브예금」" in out["answer"]


def test_d_model_error_falls_back_to_offline() -> None:
    model = ScriptedChatModel(script=[RuntimeError("429 RESOURCE_EXHAUSTED")])
    out = run(Deps().graph(model))
    assert len(model.calls) == 1
    assert out["generator"] == "gemini→offline" and out["regenerated"] is False
    assert out["fallback_reason"] == "모델 오류: RuntimeError: 429 RESOURCE_EXHAUSTED"
    assert out["verification"].ok and out["cited"]


def test_e_no_model_configured_answers_offline() -> None:
    out = run(Deps().graph(None))
    assert out["generator"] == "offline" and out["fallback_reason"] is None
    assert out["verification"].ok
    assert [c.product_id for c in out["cited"]] == [E_GREEN.product_id, MIZ.product_id, KB_VALUE_30.product_id]
    assert out["answer"].startswith("문의하신 내용과 관련해 고객님의 투자성향(위험중립형)에 맞는 상품 3개를 찾았습니다.")
    assert "투자성향에 맞지 않는 상품 1개는 제외했습니다." in out["answer"]


def test_unknown_product_id_and_name_from_model_are_caught() -> None:
    invented = AdvisorAnswer(
        summary="「카카오뱅크 26주적금」도 좋습니다.",
        items=[AdvisorItem(product_id="saving:9999999:X", reason="좋은 상품입니다."), *GOOD.items],
    )
    model = ScriptedChatModel(script=[invented])
    out = run(Deps().graph(model))
    assert out["generator"] == "gemini→offline"
    assert "saving:9999999:X" in out["fallback_reason"] and "카카오뱅크 26주적금" in out["fallback_reason"]


def test_disliked_and_liked_products_in_the_graph() -> None:
    t = datetime(2026, 8, 1, tzinfo=UTC)
    feedback = [
        Feedback(feedback_id="1", user_id=PERSONA.user_id, target="product", target_id=E_GREEN.product_id,
                 rating="dislike", created_at=t),
        Feedback(feedback_id="2", user_id=PERSONA.user_id, target="product", target_id=WON_PLUS.product_id,
                 rating="like", created_at=t),
    ]
    out = run(Deps(feedback=feedback).graph(None))
    ids = [c.product_id for c in out["cited"]]
    assert E_GREEN.product_id not in ids and ids[0] == WON_PLUS.product_id
    assert {e.product_id: e.reason for e in out["excluded"]}[E_GREEN.product_id] == "이전에 '관심 없음'으로 표시한 상품"
    assert "'관심 없음'으로 표시하신 상품 1개" in out["answer"]


def test_second_retrieval_with_suitability_floor_when_too_few_suitable() -> None:
    # 안정추구형: the top funds are all too risky; the graph re-queries with the floor applied
    persona = Persona(user_id="U0000007", risk_profile=2, persona="투자성향은 안정추구형입니다.")
    deps = Deps(order=[KCGI_CHINA, KOREA_VALUE_10Y, KB_INDIA, AB_HIGH_YIELD, KB_MMF],
                personas={"U0000007": persona})
    out = deps.graph(None).invoke({"user_id": "U0000007", "question": None,
                                   "filters": ProductFilters(product_types=[ProductType.FUND]), "k": 3})
    assert [f.max_risk_grade_riskiest for f in deps.retrieve_calls] == [None, 5]
    assert [c.product_id for c in out["cited"]] == [AB_HIGH_YIELD.product_id, KB_MMF.product_id]
    assert {e.product_id for e in out["excluded"]} == {KCGI_CHINA.product_id, KOREA_VALUE_10Y.product_id,
                                                        KB_INDIA.product_id}
    assert out["verification"].ok


def test_unknown_user_gets_no_investment_products() -> None:
    deps = Deps(order=[KB_MMF, WON_PLUS, KCGI_CHINA], personas={})
    out = deps.graph(None).invoke({"user_id": "U9999999", "k": 5})
    assert [c.product_id for c in out["cited"]] == [WON_PLUS.product_id]
    assert out["answer"].startswith("투자성향 정보가 없어")
    assert deps.retrieve_calls[-1].max_risk_grade_riskiest == 7


def test_vector_failure_only_disables_similarity_boost() -> None:
    t = datetime(2026, 8, 1, tzinfo=UTC)
    deps = Deps(feedback=[Feedback(feedback_id="1", user_id=PERSONA.user_id, target="product",
                                   target_id=WOORI_SUPER.product_id, rating="like", created_at=t)])

    def broken(ids: list[str]) -> dict[str, list[float]]:
        raise ConnectionError("store down")

    graph = build_advisor_graph(load_persona=deps.load_persona, retrieve=deps.retrieve,
                                feedback_for=deps.feedback_for, vectors_for=broken, chat_model=None)
    out = run(graph)
    assert out["verification"].ok and len(out["cited"]) == 3


def test_nothing_found_is_answered_offline_without_calling_the_model() -> None:
    model = ScriptedChatModel(script=[GOOD])
    out = run(Deps(order=[]).graph(model))
    assert model.calls == []
    assert out["generator"] == "offline" and out["cited"] == []
    assert "찾지 못했습니다" in out["answer"] and out["verification"].ok


# --- the real ChatGoogleGenerativeAI against a loopback generateContent ------------------------
def _gemini_handler(answer: AdvisorAnswer | None):
    def handler(method: str, path: str, query: dict, body: Any, headers: dict) -> tuple[int, Any, dict]:
        if answer is None:
            return 500, {"error": {"code": 500, "message": "internal", "status": "INTERNAL"}}, {}
        assert path.endswith("/models/gemini-2.5-flash:generateContent")
        assert body["generationConfig"]["responseMimeType"] == "application/json"
        assert "AdvisorItem" in json.dumps(body["generationConfig"]["responseJsonSchema"])
        text = answer.model_dump_json()
        return 200, {
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 50, "totalTokenCount": 150},
            "modelVersion": "gemini-2.5-flash",
        }, {}
    return handler


@pytest.mark.parametrize(("answer", "generator"), [(GOOD, "gemini"), (None, "gemini→offline")])
def test_real_gemini_client_through_the_graph(tmp_path, answer: AdvisorAnswer | None, generator: str) -> None:
    with LoopbackServer(_gemini_handler(answer)) as server:
        settings = load_settings(FINRAY_HOME=str(tmp_path), FINRAY_LLM="gemini", GOOGLE_API_KEY="test-key",
                                 GEMINI_BASE_URL=server.url)
        out = run(Deps().graph(make_gemini_chat_model(settings)))
        assert server.requests and server.requests[0]["headers"]["x-goog-api-key"] == "test-key"
    assert out["generator"] == generator and out["verification"].ok


# =============================================================================================
# offline generator
# =============================================================================================
def _ranked(products: list[Product], profile: int | None = 5):
    hits = [ProductHit(product=p, score=1 / (60 + i), rank=i) for i, p in enumerate(products, start=1)]
    return rerank(hits, risk_profile=profile, feedback=[], liked_vectors={}, hit_vectors=None, k=len(products))


@pytest.mark.parametrize("product", ALL_PRODUCTS, ids=lambda p: p.product_id)
@pytest.mark.parametrize("question", [None, QUESTION])
def test_offline_answer_passes_its_own_verification_for_every_product(product: Product, question: str | None) -> None:
    res = _ranked([product])
    text, items = offline_answer(res.ranked, PERSONA, question, res.excluded)
    v = verify_answer(text, items, [product], context=f"{question or ''}\n{PERSONA.persona}")
    assert v.ok, (text, v.problems)
    assert v.claims_checked >= 1
    assert f"「{items[0].name}」" in text


@pytest.mark.parametrize("profile", [None, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("term", [None, 6, 12, 24])
def test_offline_answer_for_whole_catalogue_each_profile_and_term(profile: int | None, term: int | None) -> None:
    res = _ranked(ALL_PRODUCTS, profile)
    persona = PERSONA.model_copy(update={"risk_profile": profile})
    text, items = offline_answer(res.ranked, persona, None, res.excluded, term_months=term)
    context = "\n".join([persona.persona, *(e.reason for e in res.excluded)])
    v = verify_answer(text, items, [r.product for r in res.ranked], context=context)
    assert v.ok, v.problems
    assert len(items) == len(res.ranked)


def test_offline_answers_naming_providers_that_read_like_product_names_pass() -> None:
    """'주식회사KB손해보험' (Latin letters + 보험) looks like a product name to the name check; as a
    candidate's provider it is data. Every window of five consecutive 연금저축 products."""
    from finray.products.snapshot import load_snapshot

    annuities = load_snapshot(sources=["finlife:annuity"])["finlife:annuity"].products
    assert any(p.provider == "주식회사KB손해보험" for p in annuities)
    for i in range(len(annuities) - 4):
        res = _ranked(annuities[i : i + 5])
        text, items = offline_answer(res.ranked, PERSONA, None, res.excluded)
        v = verify_answer(text, items, [r.product for r in res.ranked], context=PERSONA.persona)
        assert v.ok, (i, v.problems)


def test_offline_reason_quotes_exact_data() -> None:
    res = _ranked([WOORI_SUPER, KCGI_CHINA, WOORI_CREDIT])
    text, items = offline_answer(res.ranked, PERSONA, None)
    assert items[0].reason.startswith("12개월 기준 최고 연 3.85%(기본 연 2.45%)의 단리 자유적립식·정액적립식 적금입니다.")
    assert "우대조건: 1.우리은행 입출식 계좌" in items[0].reason
    assert "주식형 펀드로 위험등급은 2등급(높은위험), 총보수는 연 1.51%, 최근 12개월 수익률은 46.52%입니다." in items[1].reason
    assert "신용점수 구간별 대출금리는 연 5.33~10.01%(평균 연 5.80%)입니다." in items[2].reason
    assert text.startswith("고객님의 투자성향(위험중립형)과 관심사(ETF, 내집마련)를 고려해 추천드리는 상품 3개입니다.")
    assert "※ 펀드는 예금자보호 대상이 아니며" in text


def test_offline_streaming_chunks_join_to_the_full_text() -> None:
    res = _ranked([E_GREEN, MIZ, KB_STAR, KB_VALUE_30])
    chunks = list(stream_offline_answer(res.ranked, PERSONA, QUESTION, res.excluded))
    text, _ = offline_answer(res.ranked, PERSONA, QUESTION, res.excluded)
    assert len(chunks) >= 5  # intro, 4 products, notes
    assert "".join(chunks) == text
    assert isinstance(stream_offline_answer(res.ranked), Iterator)


def test_offline_answer_is_deterministic() -> None:
    res = _ranked(ALL_PRODUCTS)
    assert offline_answer(res.ranked, PERSONA, QUESTION) == offline_answer(res.ranked, PERSONA, QUESTION)


# =============================================================================================
# verification
# =============================================================================================
CANDIDATES = [E_GREEN, MIZ, KB_VALUE_30, KB_INDIA, KOREA_VALUE_10Y]


def _v(text: str, context: str = "", items: list | None = None):
    return verify_answer(text, items if items is not None else [], CANDIDATES, context=context)


def test_verify_catches_a_wrong_product_name() -> None:
    v = _v("「카카오뱅크 26주적금」은 12개월 최고 연 3.95%입니다.")
    assert not v.ok and any("카카오뱅크 26주적금" in p for p in v.problems)
    bare = _v("카카오뱅크26주적금도 연 3.95%입니다.")
    assert not bare.ok and any("카카오뱅크26주적금" in p for p in bare.problems)
    # a catalogue name with different spacing is fine; the feed's line breaks too
    assert _v("「e-그린 세이브예금」은 연 3.95%입니다.").ok


def test_verify_does_not_flag_persona_or_question_numbers() -> None:
    text = (
        "35세 고객님, 문의하신 5,000만원을 1년 굴리시려면 「e-그린세이브예금」(12개월 최고 연 3.95%)이 좋습니다. "
        "자산 구성이 예적금 45%이신 점을 고려해 3개 상품을 골랐습니다. 3%대 상품입니다."
    )
    assert not _v(text).ok  # "45%" and "3%" are not product facts...
    v = _v(text, context=f"{QUESTION}\n{PERSONA.persona}")
    assert v.ok, v.problems  # ...but they are the customer's own numbers
    assert "예적금 45%" in PERSONA.persona


def test_verify_rates_are_attributed_to_the_product_named_on_the_line() -> None:
    assert _v("「미즈월복리정기예금」은 12개월 최고 연 3.68%입니다.").ok
    borrowed = _v("「미즈월복리정기예금」은 12개월 최고 연 3.95%입니다.")  # e-그린's rate
    assert not borrowed.ok and "3.95%" in borrowed.problems[0]
    assert _v("두 예금의 최고 금리는 연 3.95%와 연 3.68%입니다.").ok  # no name: any candidate


def test_verify_formatting_tolerance() -> None:
    assert _v("「e-그린세이브예금」 6개월 최고 연 3.50%").ok  # 3.5 == 3.50
    assert _v("「KB 밸류 포커스 30 증권자투자신탁(채권혼합) C-E」 총보수 연 0.91%").ok  # 0.905 shown to 2 places
    assert not _v("「e-그린세이브예금」 12개월 최고 연 4.0%").ok
    assert not _v("「e-그린세이브예금」 12개월 최고 연 4%").ok  # 3.95 rounded to 4: not the data
    assert _v("「KB 인디아 증권 자투자신탁(주식)-C-E」 12개월 수익률 -19.38%").ok
    assert _v("「KB 인디아 증권 자투자신탁(주식)-C-E」 12개월 수익률이 19.38% 하락했습니다.").ok
    assert not _v("「KB 인디아 증권 자투자신탁(주식)-C-E」 12개월 수익률 19.38%").ok  # sign lost


def test_verify_terms_grades_ranges_and_conditions() -> None:
    assert _v("「e-그린세이브예금」은 1, 3, 6, 12개월 가입이 가능하고 연 2.2~3.95%입니다.").ok
    assert not _v("「e-그린세이브예금」은 48개월 상품입니다.").ok
    assert _v("「미즈월복리정기예금」 가입기간은 1~3년이며 우대금리 최고 0.2%p입니다.").ok
    assert not _v("「KB 밸류 포커스 30 증권자투자신탁(채권혼합) C-E」는 2등급(높은위험)입니다.").ok
    assert _v("「KB 밸류 포커스 30 증권자투자신탁(채권혼합) C-E」는 4등급(보통위험)입니다.").ok
    # a number-and-unit inside a product name is not a claim
    assert _v("「한국밸류 10년투자 증권투자신탁 1호(주식)-CE」 총보수 연 1.304%").ok
    # calendar years, counts and amounts are not claims
    assert _v("2026년 7월 공시 기준 3개 상품, 월 50만원, 1억원까지 보호").ok


def test_verify_cited_items_must_be_candidates_and_named() -> None:
    item = AdvisorItem(product_id=MIZ.product_id, reason="")
    assert not _v("좋은 예금입니다.", items=[item]).ok  # cited but not named in the text
    assert _v("「미즈월복리정기예금」을 추천합니다.", items=[item]).ok
    ghost = AdvisorItem(product_id="deposit:0:NOPE", reason="")
    assert any("deposit:0:NOPE" in p for p in _v("「미즈월복리정기예금」", items=[item, ghost]).problems)


def test_extract_claims() -> None:
    claims = extract_claims("연 5.33~10.01%, 2.45 - 3.85%, 수익률 -19.38%, 1~36개월, 5~6등급, 2026년, 0.7%p, 35세")
    assert [(c.kind, str(c.value)) for c in claims] == [
        ("pct", "5.33"), ("pct", "10.01"), ("pct", "2.45"), ("pct", "3.85"), ("pct", "-19.38"),
        ("months", "1"), ("months", "36"), ("grade", "5"), ("grade", "6"), ("pp", "0.7"),
    ]


def test_verify_generic_product_kinds_are_not_names() -> None:
    for text in ("CMA통장이나 ETF펀드, ISA예금과 비교해 보세요.", "12개월적금과 1년만기예금 중에서 고르세요."):
        assert _v(text).ok, _v(text).problems
    assert not _v("KB특★한적금도 있습니다.").ok  # a specific name that is not a candidate


def test_verify_accepts_statutory_tax_rates_only() -> None:
    assert _v("「e-그린세이브예금」 이자에는 이자소득세 15.4%가 원천징수됩니다.").ok
    assert not _v("「e-그린세이브예금」 이자에는 세금 12.5%가 붙습니다.").ok
