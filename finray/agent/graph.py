"""The advisor agent: a LangGraph ``StateGraph`` from customer to verified answer.

::

    START → load_persona → retrieve → rerank ─┬─(model and candidates)→ generate ─┬─(ok)→ verify
                                              │                                  └─(model error)→ offline
                                              └─(no model / nothing to say)────────────────────→ offline
    verify ─┬─ passed, or the answer is already offline ──────────────→ END
            ├─ failed, model tried once ──→ generate (problems fed back)
            └─ failed again ──────────────→ offline → verify → END

Why this shape: the model is optional and fallible, the catalogue is not. Every answer is
verified against the candidates' data; a model answer that fails gets exactly one retry with the
problems spelled out, then the deterministic offline generator (which cites only data) answers
instead, so a customer never waits on, or reads, an unverified number. Dependencies are injected
as plain callables, so the graph is tested without stores, embedders or network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from langgraph.graph import END, START, StateGraph

from finray.agent.gemini import build_messages, generate_structured, render_model_answer
from finray.agent.offline import offline_answer
from finray.agent.state import AdvisorInput, AdvisorOutput, AdvisorState, Persona
from finray.agent.verify import verify_answer
from finray.retrieval.personal import personal_rerank
from finray.retrieval.rerank import RerankResult, product_preferences
from finray.retrieval.suitability import allowed_grades_text, check, max_risk_grade_riskiest
from finray.stores.base import Feedback, ProductFilters, ProductHit

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langgraph.graph.state import CompiledStateGraph

log = logging.getLogger(__name__)

#: Model generations per request: the first answer and one retry after failed verification.
MAX_MODEL_ATTEMPTS = 2
DEFAULT_K = 5

LoadPersona = Callable[[str], Persona | None]
Retrieve = Callable[[str, str | None, ProductFilters], list[ProductHit]]
FeedbackFor = Callable[[str], list[Feedback]]
VectorsFor = Callable[[list[str]], dict[str, list[float]]]
RerankHits = Callable[[list[ProductHit], Persona, list[Feedback], int], RerankResult]


def _term(state: AdvisorState) -> int | None:
    intent = state.get("intent")
    if intent is not None and intent.term_months is not None:
        return intent.term_months
    filters = state.get("filters")
    return filters.term_months if filters else None


def verification_context(state: AdvisorState) -> str:
    """Text whose numbers and names are never claims: question, persona, our exclusion notes."""
    persona = state.get("persona")
    parts = [state.get("question") or ""]
    if persona is not None:
        parts.append(persona.persona)
        if persona.risk_profile is not None:
            parts.append(allowed_grades_text(persona.risk_profile))
    for e in state.get("excluded") or []:
        parts += [e.name, e.reason]
    parts += [r.alternative_note for r in state.get("ranked") or [] if r.alternative_note]
    return "\n".join(p for p in parts if p)


def merge_hits(first: Sequence[ProductHit], second: Sequence[ProductHit]) -> list[ProductHit]:
    """``first`` then the new products of ``second``, re-ranked 1..n in that order."""
    seen: set[str] = set()
    out: list[ProductHit] = []
    for h in (*first, *second):
        if h.product.product_id in seen:
            continue
        seen.add(h.product.product_id)
        out.append(h.model_copy(update={"rank": len(out) + 1}))
    return out


def build_advisor_graph(
    *,
    load_persona: LoadPersona,
    retrieve: Retrieve,
    feedback_for: FeedbackFor,
    vectors_for: VectorsFor,
    chat_model: BaseChatModel | None,
    default_k: int = DEFAULT_K,
    rerank_hits: RerankHits | None = None,
) -> CompiledStateGraph:
    """Compile the advisor graph around the injected dependencies.

    * ``load_persona(user_id)`` → :class:`Persona` or ``None`` (unknown user: answered as a
      customer with no 투자성향, i.e. no investment products).
    * ``retrieve(user_id, question, filters)`` → hits, best first (question ``None``: recommend
      from the persona). It should over-fetch (say 3×k): reranking removes products.
    * ``feedback_for(user_id)`` → the user's feedback; ``vectors_for(ids)`` → stored vectors of
      those products (missing ids left out; failures only disable the similarity boost).
    * ``chat_model``: a LangChain ``BaseChatModel`` (``ChatGoogleGenerativeAI`` in production,
      see :func:`finray.agent.gemini.chat_model_from_settings`) or ``None`` for offline answers.
    * ``rerank_hits(hits, persona, feedback, k)`` → :class:`RerankResult`, when reranking runs
      elsewhere (the Reranker deployment); by default :func:`personal_rerank` runs in-process
      with ``vectors_for``.

    Input (:class:`AdvisorInput`): ``user_id``, optional ``question``, ``filters``, ``k``.
    Output (:class:`AdvisorOutput`): ``answer``, ``cited``, ``excluded``, ``generator``,
    ``verification``, ``regenerated``, ``fallback_reason``.
    """

    def _k(state: AdvisorState) -> int:
        return max(1, int(state.get("k") or default_k))

    def load_persona_node(state: AdvisorState) -> dict[str, Any]:
        user_id = state["user_id"]
        persona = load_persona(user_id) or Persona(user_id=user_id)
        return {
            "persona": persona,
            "feedback": list(feedback_for(user_id)),
            "attempts": 0,
            "problems": [],
            "model_error": None,
            "regenerated": False,
            "fallback_reason": None,
        }

    def retrieve_node(state: AdvisorState) -> dict[str, Any]:
        """Retrieve with the caller's filters; if too few suitable hits survive, retrieve again
        with the suitability floor applied and append the new hits.

        Retrieving first without the floor lets the answer explain which relevant products were
        left out for suitability (and why); the second pass keeps the list full of products the
        customer may actually be offered.
        """
        user_id, question = state["user_id"], state.get("question")
        filters = state.get("filters") or ProductFilters()
        profile = state["persona"].risk_profile
        hits = list(retrieve(user_id, question, filters))
        floor = max_risk_grade_riskiest(profile)
        if floor > (filters.max_risk_grade_riskiest or 1):
            prefs = product_preferences(state.get("feedback") or [], user_id)
            usable = sum(
                1
                for h in hits
                if prefs.get(h.product.product_id) != "dislike" and check(h.product, profile).allowed
            )
            if usable < _k(state):
                strict = filters.model_copy(update={"max_risk_grade_riskiest": floor})
                hits = merge_hits(hits, retrieve(user_id, question, strict))
        return {"hits": hits}

    def rerank_node(state: AdvisorState) -> dict[str, Any]:
        hits = state.get("hits") or []
        feedback = state.get("feedback") or []
        if rerank_hits is not None:
            result = rerank_hits(hits, state["persona"], feedback, _k(state))
        else:
            result = personal_rerank(
                hits, risk_profile=state["persona"].risk_profile, feedback=feedback,
                k=_k(state), user_id=state["user_id"], vectors_for=vectors_for,
            )
        return {"ranked": result.ranked, "excluded": result.excluded}

    def generate_node(state: AdvisorState) -> dict[str, Any]:
        attempts = state.get("attempts", 0) + 1
        messages = build_messages(
            state.get("ranked") or [],
            state.get("persona"),
            state.get("question"),
            state.get("excluded") or [],
            problems=state.get("problems") or [],
            term_months=_term(state),
            intent=state.get("intent"),
        )
        try:
            answer = generate_structured(chat_model, messages)
        except Exception as err:  # noqa: BLE001 - any model failure means "answer offline"
            log.warning("chat model failed (attempt %d): %s: %s", attempts, type(err).__name__, err)
            return {"attempts": attempts, "model_error": f"{type(err).__name__}: {err}"}
        text, cited = render_model_answer(answer, state.get("ranked") or [], _term(state))
        return {
            "attempts": attempts,
            "answer": text,
            "cited": cited,
            "generator": "gemini",
            "model_error": None,
            "regenerated": attempts > 1,
        }

    def offline_node(state: AdvisorState) -> dict[str, Any]:
        text, cited = offline_answer(
            state.get("ranked") or [],
            state.get("persona"),
            state.get("question"),
            state.get("excluded") or [],
            term_months=_term(state),
            intent=state.get("intent"),
        )
        attempts = state.get("attempts", 0)
        out: dict[str, Any] = {"answer": text, "cited": cited, "generator": "offline"}
        if attempts > 0:
            out["generator"] = "gemini→offline"
            if state.get("model_error"):
                out["fallback_reason"] = f"모델 오류: {state['model_error']}"
            else:
                out["fallback_reason"] = "검증 실패: " + "; ".join(state.get("problems") or [])
        return out

    def verify_node(state: AdvisorState) -> dict[str, Any]:
        v = verify_answer(
            state.get("answer") or "",
            state.get("cited") or [],
            [r.product for r in state.get("ranked") or []],
            context=verification_context(state),
            require_items=True,
            intent=state.get("intent"),
        )
        out: dict[str, Any] = {"verification": v}
        if not v.ok:
            if state.get("generator") == "gemini":
                out["problems"] = v.problems
                log.info(
                    "model answer failed verification (attempt %d): %s",
                    state.get("attempts", 0),
                    v.problems,
                )
            else:  # the offline generator must always pass; a failure is a bug worth seeing
                log.error("offline answer failed verification: %s", v.problems)
        return out

    def after_rerank(state: AdvisorState) -> str:
        return "generate" if chat_model is not None and state.get("ranked") else "offline"

    def after_generate(state: AdvisorState) -> str:
        return "offline" if state.get("model_error") else "verify"

    def after_verify(state: AdvisorState) -> str:
        v = state["verification"]
        if v.ok or state.get("generator") != "gemini":
            return END
        return "generate" if state.get("attempts", 0) < MAX_MODEL_ATTEMPTS else "offline"

    g = StateGraph(AdvisorState, input_schema=AdvisorInput, output_schema=AdvisorOutput)
    g.add_node("load_persona", load_persona_node)
    g.add_node("retrieve", retrieve_node)
    g.add_node("rerank", rerank_node)
    g.add_node("generate", generate_node)
    g.add_node("offline", offline_node)
    g.add_node("verify", verify_node)
    g.add_edge(START, "load_persona")
    g.add_edge("load_persona", "retrieve")
    g.add_edge("retrieve", "rerank")
    g.add_conditional_edges("rerank", after_rerank, ["generate", "offline"])
    g.add_conditional_edges("generate", after_generate, ["verify", "offline"])
    g.add_edge("offline", "verify")
    g.add_conditional_edges("verify", after_verify, ["generate", "offline", END])
    return g.compile(name="finray-advisor")
