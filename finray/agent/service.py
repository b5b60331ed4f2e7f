"""The advisor for one request at a time: the LangGraph agent bound to its data sources.

:class:`AdvisorService` compiles the advisor graph (:mod:`finray.agent.graph`) once, with
callables that read through :class:`~finray.agent.sources.AdvisorSources`, and answers two kinds
of request:

* :meth:`AdvisorService.recommend` — the whole verified answer at once (recommendations);
* :meth:`AdvisorService.stream` — the same answer as events: ``meta`` (what was retrieved and
  excluded), several ``delta`` text chunks, then ``done`` (the full answer, cited products,
  generator, verification). The serving layer turns them into Server-Sent Events.

**Streaming and verification.** The graph ends with ``verify``; the customer must never read a
number the catalogue does not support. The two generators meet that differently:

* *Offline generator* (the default): its text is built only from product data and passes
  verification by construction (``tests/test_agent.py`` checks that over the whole catalogue).
  So the chunks are sent as soon as reranking has picked the products — the intro first, then one
  chunk per product — and the graph's ``verify`` still runs on the same text; ``done`` reports its
  outcome (a failure there is logged as a bug, it cannot be un-sent).
* *A chat model* (Gemini): its answer is **verified before any of it is sent**. The graph
  generates, verifies, regenerates once or falls back to the offline generator; only the final,
  verified text is then streamed (line by line). Streaming the model's tokens as they arrive
  would show unverified rates to the customer and could not be taken back when verification
  fails, so the first chunk waits for the model — the ``meta`` event goes out before that, so a
  client can show progress.

Per-request data (the request, the persona already read, the query vector) travels in the
LangGraph run config (``configurable``), not in globals, so one compiled graph serves concurrent
requests in many threads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from langgraph.config import get_config
from pydantic import BaseModel, Field

from finray.agent.graph import DEFAULT_K, build_advisor_graph
from finray.agent.offline import stream_offline_answer
from finray.agent.sources import AdvisorSources
from finray.advice.presentation import Comparison, ComputedInterest, comparison_for, computed_for, notices_of
from finray.agent.state import CitedProduct, IntentOverrides, Persona
from finray.intent.model import QueryIntent
from finray.retrieval.rerank import Excluded
from finray.stores.base import ProductFilters, ProductHit

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

log = logging.getLogger(__name__)

#: Products retrieved per search before reranking. Reranking removes disliked and unsuitable
#: products and an answer cites at most 10; when too few suitable ones remain the graph searches
#: again with the suitability floor. 20 keeps every hop's payload small (hits carry products).
CANDIDATES = 20
_SCOPE_KEY = "finray_advice"


class UnknownUserError(LookupError):
    """The user id is not in the user DB."""

    def __init__(self, user_id: str) -> None:
        super().__init__(f"unknown user {user_id}")
        self.user_id = user_id


@dataclass(frozen=True)
class AdviceRequest:
    """One recommendation or chat question.

    ``amount_krw``: what the customer wants to put in (for a 적금, the monthly payment); products
    whose 최고한도 is below it are left out. ``persona_override`` replaces the stored persona text
    (the 투자성향 still comes from the user DB: suitability is never the client's to set).
    """

    user_id: str
    question: str | None = None
    filters: ProductFilters = field(default_factory=ProductFilters)
    k: int = DEFAULT_K
    amount_krw: int | None = None
    persona_override: str | None = None
    drop: tuple[str, ...] = ()  # slots the user removed: not read from the question

    def overrides(self) -> IntentOverrides:
        """The explicit fields, which win over what the question says."""
        f = self.filters
        return IntentOverrides(product_types=f.product_types or None, term_months=f.term_months,
                               providers=f.providers or None, amount_krw=self.amount_krw, drop=list(self.drop))


class AdviceMeta(BaseModel):
    type: Literal["meta"] = "meta"
    user_id: str
    candidates: int  # products retrieved
    recommended: int  # products kept after reranking (what the answer will cite)
    excluded: list[Excluded]
    generator: Literal["offline", "gemini"]  # who writes the answer (before any fallback)
    intent: QueryIntent = Field(default_factory=QueryIntent)
    notices: list[str] = Field(default_factory=list)


class AdviceDelta(BaseModel):
    type: Literal["delta"] = "delta"
    text: str


class ProductBrief(BaseModel):
    """Catalogue facts of a cited product that the answer text does not carry."""

    product_id: str
    category: str | None = None
    risk_grade: int | None = None
    terms: list[int] = Field(default_factory=list)
    disclosure_month: str | None = None


class AdviceResult(BaseModel):
    """The verified answer (also the last streamed event)."""

    type: Literal["done"] = "done"
    user_id: str
    answer: str
    cited: list[CitedProduct]
    excluded: list[Excluded]
    generator: str  # "offline" | "gemini" | "gemini→offline"
    verified: bool
    problems: list[str] = Field(default_factory=list)
    regenerated: bool = False
    fallback_reason: str | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    briefs: dict[str, ProductBrief] = Field(default_factory=dict)  # by product_id, cited only
    intent: QueryIntent = Field(default_factory=QueryIntent)  # what was understood
    notices: list[str] = Field(default_factory=list)  # relaxations ("6개월 상품이 없어 …")
    comparison: Comparison | None = None
    computed: list[ComputedInterest] = Field(default_factory=list)


AdviceEvent = AdviceMeta | AdviceDelta | AdviceResult


def answer_chunks(text: str) -> list[str]:
    """Split an answer at line breaks; each chunk after the first starts with its ``\\n``."""
    lines = text.split("\n")
    return [lines[0], *("\n" + line for line in lines[1:])] if text else []


@dataclass
class _Scope:
    request: AdviceRequest
    persona: Persona
    intent: QueryIntent = field(default_factory=QueryIntent)
    notices: list[str] = field(default_factory=list)
    vector: list[float] | None = None
    candidates: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def add_time(self, stage: str, since: float) -> None:
        self.timings[stage] = round(self.timings.get(stage, 0.0) + (time.perf_counter() - since) * 1000, 2)


def _scope() -> _Scope:
    return get_config()["configurable"][_SCOPE_KEY]


class AdvisorService:
    """The advisor graph compiled once around ``sources`` (see the module docstring)."""

    def __init__(self, sources: AdvisorSources, chat_model: BaseChatModel | None = None, candidates: int = CANDIDATES) -> None:
        self.sources = sources
        self.chat_model = chat_model
        self.candidates = candidates
        self._graph = build_advisor_graph(
            load_persona=self._load_persona,
            retrieve=self._retrieve,
            feedback_for=self._feedback,
            vectors_for=self._vectors_unused,
            chat_model=chat_model,
            rerank_hits=self._rerank,
        )

    # --- graph callables (read the request scope from the run config) ----------------------
    def _load_persona(self, user_id: str) -> Persona:
        return _scope().persona

    def _retrieve(self, user_id: str, question: str | None, filters: ProductFilters) -> list[ProductHit]:
        scope, start = _scope(), time.perf_counter()
        persona = scope.persona
        if scope.vector is None:
            if question:
                scope.vector = self.sources.embed_query(question)
            elif scope.request.persona_override:
                scope.vector = self.sources.embed_passage(persona.persona)
            else:  # the stored persona vector; built now if the user was never embedded
                scope.vector = self.sources.user_vector(user_id) or self.sources.embed_passage(persona.persona)
        text = question or " ".join(persona.interest_keywords)
        found = self.sources.search_intent(text, scope.vector, scope.intent, filters, self.candidates)
        hits = found.hits
        scope.notices = list(dict.fromkeys([*scope.notices, *found.notices]))
        scope.candidates = max(scope.candidates, len(hits))
        scope.add_time("retrieve", start)
        return hits

    def _feedback(self, user_id: str) -> list:
        start = time.perf_counter()
        try:
            return self.sources.feedback(user_id)
        finally:
            _scope().add_time("feedback", start)

    def _rerank(self, hits: list[ProductHit], persona: Persona, feedback: list, k: int):
        start = time.perf_counter()
        try:
            return self.sources.rerank(hits, persona, feedback, k)
        finally:
            _scope().add_time("rerank", start)

    @staticmethod
    def _vectors_unused(product_ids: list[str]) -> dict[str, list[float]]:
        raise RuntimeError("reranking is delegated to AdvisorSources.rerank; vectors_for is never called")

    # --- requests ------------------------------------------------------------------------
    def _open(self, request: AdviceRequest) -> tuple[_Scope, dict[str, Any], dict[str, Any]]:
        start = time.perf_counter()
        persona = self.sources.persona(request.user_id)
        if persona is None:
            raise UnknownUserError(request.user_id)
        if request.persona_override:
            persona = persona.model_copy(update={"persona": request.persona_override.strip()})
        scope = _Scope(request=request, persona=persona)
        scope.add_time("persona", start)
        start = time.perf_counter()
        scope.intent = self.sources.understand(request.question, request.overrides())
        scope.add_time("understand", start)
        inputs = {
            "user_id": request.user_id,
            "question": request.question,
            "filters": request.filters,
            "intent": scope.intent,
            "k": request.k,
        }
        return scope, inputs, {"configurable": {_SCOPE_KEY: scope}}

    def _result(self, request: AdviceRequest, state: dict[str, Any], scope: _Scope, started: float) -> AdviceResult:
        v = state.get("verification")
        cited = list(state.get("cited") or [])
        ranked = [r.product for r in state.get("ranked") or []]
        products = {r.product.product_id: r.product for r in state.get("ranked") or []}
        briefs = {
            c.product_id: ProductBrief(
                product_id=p.product_id, category=p.category, risk_grade=p.risk_grade,
                terms=list(p.terms), disclosure_month=p.disclosure_month,
            )
            for c in cited
            if (p := products.get(c.product_id)) is not None
        }
        scope.timings["total"] = round((time.perf_counter() - started) * 1000, 2)
        return AdviceResult(
            user_id=request.user_id,
            answer=state.get("answer") or "",
            cited=cited,
            excluded=list(state.get("excluded") or []),
            generator=state.get("generator") or "offline",
            verified=bool(v is not None and v.ok),
            problems=list(v.problems) if v is not None else [],
            regenerated=bool(state.get("regenerated")),
            fallback_reason=state.get("fallback_reason"),
            timings_ms=dict(scope.timings),
            briefs=briefs,
            intent=scope.intent,
            notices=notices_of(state.get("ranked") or [], scope.notices),
            comparison=comparison_for(scope.intent, ranked, state.get("ranked") or []),
            computed=computed_for(scope.intent, ranked),
        )

    def recommend(self, request: AdviceRequest) -> AdviceResult:
        """The whole verified answer; raises :class:`UnknownUserError` for an unknown user."""
        started = time.perf_counter()
        scope, inputs, config = self._open(request)
        state: dict[str, Any] = {}
        # ``stream`` rather than ``invoke``: the output schema leaves out the reranked products,
        # whose catalogue facts (terms, risk grade, disclosure month) the result carries.
        for update in self._graph.stream(inputs, config=config, stream_mode="updates"):
            for delta in update.values():
                state.update(delta or {})
        return self._result(request, state, scope, started)

    def stream(self, request: AdviceRequest) -> Iterator[AdviceEvent]:
        """``meta``, ``delta``…, ``done`` (see the module docstring for when text is sent).

        The unknown-user check happens on the first ``next()``, before anything is yielded, so a
        caller can turn it into a 404 instead of a broken stream.
        """
        started = time.perf_counter()
        scope, inputs, config = self._open(request)
        state: dict[str, Any] = {}
        sent: list[str] = []
        for update in self._graph.stream(inputs, config=config, stream_mode="updates"):
            for node, delta in update.items():
                state.update(delta or {})
                if node != "rerank":
                    continue
                ranked, excluded = state.get("ranked") or [], state.get("excluded") or []
                offline = self.chat_model is None or not ranked  # the graph's own routing rule
                yield AdviceMeta(
                    user_id=request.user_id, candidates=scope.candidates, recommended=len(ranked),
                    excluded=list(excluded), generator="offline" if offline else "gemini",
                    intent=scope.intent, notices=notices_of(ranked, scope.notices),
                )
                if offline:
                    first = time.perf_counter()
                    for chunk in stream_offline_answer(
                        ranked, scope.persona, request.question, excluded, intent=scope.intent
                    ):
                        if not sent:
                            scope.timings["first_chunk"] = round((first - started) * 1000, 2)
                        sent.append(chunk)
                        yield AdviceDelta(text=chunk)
        result = self._result(request, state, scope, started)
        if not sent:  # model path: verified (or replaced by the offline answer) before sending
            result.timings_ms["first_chunk"] = result.timings_ms["total"]
            for chunk in answer_chunks(result.answer):
                yield AdviceDelta(text=chunk)
        elif "".join(sent) != result.answer:
            # The offline generator is deterministic, so this is a bug; the done event carries the
            # graph's (verified) text and the client should show that.
            log.error("streamed offline text differs from the graph's answer for %s", request.user_id)
        yield result
