"""The pieces under the Serve app, without Ray: streaming advice (incl. a scripted chat model),
the in-memory catalogue index against LanceDB, chat-log batching, admin reports on every store,
SSE framing, request ids and error messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from finray import admin_report
from finray.agent.service import (
    AdviceDelta,
    AdviceMeta,
    AdviceRequest,
    AdviceResult,
    AdvisorService,
    UnknownUserError,
    answer_chunks,
)
from finray.advice.constraints import store_filters
from finray.advice.pipeline import IntentHits
from finray.agent.state import IntentOverrides, Persona
from finray.intent import IntentParser, ProviderDirectory, QueryIntent, merge_request
from finray.chatlog import BufferedLogWriter, answer_log, feedback_record, is_log_id, new_log_id
from finray.memo import TTLCache
from finray.retrieval.memory_index import CatalogueIndex, CatalogueSearch
from finray.retrieval.personal import personal_rerank
from finray.retrieval.rerank import RerankResult
from finray.retrieval.search import SearchMode, search_products
from finray.stores.base import ChatLog, EmbedderMismatchError, Feedback, ProductFilters, ProductHit
from finray.stores.lance import LanceStore
from serve_apps import sse
from serve_apps.errors import validation_detail
from serve_apps.request_context import endpoint_of, request_id_from
from tests.test_agent import GOOD, HALLUCINATED, PERSONA, QUESTION, Deps, ScriptedChatModel
from tests.test_suitability import E_GREEN, MIZ
from tests.test_store_contract import E5, PRODUCTS, VECTORS, Backend, backend  # noqa: F401

# =============================================================================================
# AdvisorService: events, and when text is sent relative to verification
# =============================================================================================


class DepsSources:
    """The advisor's data sources over test_agent's in-memory stand-ins (same products, persona)."""

    embedder_name = "test-embedder"

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.searches: list[tuple[str, ProductFilters, int]] = []

    def persona(self, user_id: str) -> Persona | None:
        return self.deps.load_persona(user_id)

    def user_vector(self, user_id: str) -> list[float] | None:
        return [1.0, 0.0]

    def embed_query(self, text: str) -> list[float]:
        return [0.0, 1.0]

    def embed_passage(self, text: str) -> list[float]:
        return [1.0, 1.0]

    def search(self, text: str, vector: list[float] | None, filters: ProductFilters, k: int) -> list[ProductHit]:
        self.searches.append((text, filters, k))
        return self.deps.retrieve(PERSONA.user_id, text, filters)

    def understand(self, question: str | None, overrides: IntentOverrides) -> QueryIntent:
        """The real parser (no catalogue providers here), with the request's fields applied."""
        parsed = IntentParser(ProviderDirectory.build({})).parse(question or "")
        return merge_request(parsed, **overrides.as_kwargs())

    def search_intent(
        self, text: str, vector: list[float] | None, intent: QueryIntent, filters: ProductFilters, k: int
    ) -> IntentHits:
        return IntentHits(hits=self.search(text, vector, store_filters(intent, None, filters), k))

    def feedback(self, user_id: str) -> list[Feedback]:
        return self.deps.feedback_for(user_id)

    def rerank(self, hits: list[ProductHit], persona: Persona, feedback: list[Feedback], k: int) -> RerankResult:
        return personal_rerank(hits, risk_profile=persona.risk_profile, feedback=feedback, k=k,
                               user_id=persona.user_id, vectors_for=self.deps.vectors_for)


def _stream(service: AdvisorService, **kw: Any) -> list[Any]:
    return list(service.stream(AdviceRequest(user_id=PERSONA.user_id, question=QUESTION, k=3, **kw)))


def _check_shape(events: list[Any]) -> AdviceResult:
    assert isinstance(events[0], AdviceMeta) and isinstance(events[-1], AdviceResult)
    assert all(isinstance(e, AdviceDelta) for e in events[1:-1]) and len(events) >= 4
    done = events[-1]
    assert "".join(e.text for e in events[1:-1]) == done.answer
    assert done.verified, done.problems
    return done


def test_offline_stream_sends_meta_then_the_answer_in_chunks() -> None:
    service = AdvisorService(DepsSources(Deps()), chat_model=None)
    events = _stream(service)
    done = _check_shape(events)
    meta = events[0]
    assert meta.generator == "offline" and meta.recommended == 3 and meta.candidates == 5
    assert [e.kind for e in meta.excluded] == ["unsuitable"]
    assert done.generator == "offline" and len(done.cited) == 3
    # one chunk per product line after the intro (the client can render as they come)
    assert len(events) - 2 >= 1 + len(done.cited)
    assert done.timings_ms["first_chunk"] <= done.timings_ms["total"]
    assert {"persona", "retrieve", "rerank", "feedback"} <= set(done.timings_ms)
    assert set(done.briefs) == {c.product_id for c in done.cited}


def test_recommend_equals_the_streamed_answer() -> None:
    service = AdvisorService(DepsSources(Deps()), chat_model=None)
    streamed = _stream(service)[-1]
    whole = service.recommend(AdviceRequest(user_id=PERSONA.user_id, question=QUESTION, k=3))
    assert whole.answer == streamed.answer and whole.cited == streamed.cited and whole.briefs == streamed.briefs


class _Watch:
    """Iterates a stream and records how many model calls had happened at the first text chunk."""

    def __init__(self, model: ScriptedChatModel) -> None:
        self.model = model
        self.calls_at_first_text: int | None = None

    def run(self, service: AdvisorService) -> list[Any]:
        out = []
        for event in service.stream(AdviceRequest(user_id=PERSONA.user_id, question=QUESTION, k=3)):
            if isinstance(event, AdviceDelta) and self.calls_at_first_text is None:
                self.calls_at_first_text = len(self.model.calls)
            out.append(event)
        return out


def test_model_answer_is_verified_before_any_text_is_sent() -> None:
    model = ScriptedChatModel(script=[HALLUCINATED, GOOD])
    watch = _Watch(model)
    events = watch.run(AdvisorService(DepsSources(Deps()), chat_model=model))
    done = _check_shape(events)
    assert events[0].generator == "gemini"
    assert watch.calls_at_first_text == 2  # the retry happened before the first chunk went out
    assert done.generator == "gemini" and done.regenerated is True
    assert "9.99" not in "".join(e.text for e in events if isinstance(e, AdviceDelta))


def test_model_that_keeps_failing_streams_the_offline_answer() -> None:
    model = ScriptedChatModel(script=[HALLUCINATED])
    watch = _Watch(model)
    done = _check_shape(watch.run(AdvisorService(DepsSources(Deps()), chat_model=model)))
    assert watch.calls_at_first_text == 2
    assert done.generator == "gemini→offline" and done.fallback_reason.startswith("검증 실패")
    assert "9.99" not in done.answer


def test_model_error_streams_the_offline_answer() -> None:
    model = ScriptedChatModel(script=[RuntimeError("503 UNAVAILABLE")])
    done = _check_shape(_stream(AdvisorService(DepsSources(Deps()), chat_model=model)))
    assert done.generator == "gemini→offline" and "503" in (done.fallback_reason or "")


def test_unknown_user_raises_before_anything_is_sent() -> None:
    service = AdvisorService(DepsSources(Deps(personas={})), chat_model=None)
    stream = service.stream(AdviceRequest(user_id="U0000999", question=QUESTION))
    with pytest.raises(UnknownUserError):
        next(stream)
    with pytest.raises(UnknownUserError):
        service.recommend(AdviceRequest(user_id="U0000999"))


def test_recommendation_uses_persona_keywords_and_stored_vector_and_amount() -> None:
    sources = DepsSources(Deps())
    service = AdvisorService(sources, chat_model=None, candidates=12)
    result = service.recommend(AdviceRequest(user_id=PERSONA.user_id, k=2))
    text, _, k = sources.searches[0]
    assert text == "ETF 내집마련" and k == 12  # the persona's interest keywords; over-fetched
    assert result.cited and result.verified
    # 미즈월복리정기예금 takes at most 5,000만원, e-그린세이브예금 10억원 (their finlife max_limit)
    out = service.recommend(AdviceRequest(user_id=PERSONA.user_id, k=5, amount_krw=60_000_000))
    cited = {c.product_id for c in out.cited}
    assert MIZ.product_id not in cited and E_GREEN.product_id in cited
    assert MIZ.product_id in {c.product_id for c in service.recommend(AdviceRequest(user_id=PERSONA.user_id, k=5)).cited}


def test_persona_override_changes_text_not_suitability() -> None:
    service = AdvisorService(DepsSources(Deps()), chat_model=None)
    done = _stream(service, persona_override="은퇴를 앞두고 안정적인 이자 수입을 원합니다.")[-1]
    assert [e.kind for e in done.excluded] == ["unsuitable"]  # 투자성향 still from the user DB


def test_answer_chunks() -> None:
    text = "첫 줄\n\n1. 상품\n2. 상품"
    assert "".join(answer_chunks(text)) == text and answer_chunks("") == []


# =============================================================================================
# the in-memory catalogue index: same hits as LanceDB's own search
# =============================================================================================
FILTERS = [
    ProductFilters(),
    ProductFilters(include_discontinued=True),
    ProductFilters(product_types=[PRODUCTS[0].product_type]),
    ProductFilters(providers=[PRODUCTS[0].provider, PRODUCTS[-1].provider]),
    ProductFilters(term_months=12),
    ProductFilters(max_risk_grade_riskiest=4),
    ProductFilters(max_risk_grade_riskiest=7),
]


@pytest.fixture
def lance_indexed(tmp_path: Path) -> LanceStore:
    store = LanceStore(tmp_path / "lance")
    store.upsert_product_vectors(PRODUCTS, VECTORS.tolist(), E5)
    store.set_products_discontinued([PRODUCTS[1].product_id], date(2026, 8, 1))
    return store


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: f.model_dump_json(exclude_defaults=True))
def test_index_vector_search_matches_lance(lance_indexed: LanceStore, filters: ProductFilters) -> None:
    index = CatalogueIndex.load(lance_indexed)
    assert len(index) == len(PRODUCTS)
    for i in range(0, len(PRODUCTS), 3):
        q = VECTORS[i].tolist()
        ours = index.vector_search(q, 6, filters, E5.embedder)
        theirs = lance_indexed.vector_search(q, 6, filters, E5.embedder)
        assert [h.product.product_id for h in ours] == [h.product.product_id for h in theirs]
        assert np.allclose([h.score for h in ours], [h.score for h in theirs], atol=1e-5)
        assert [h.rank for h in ours] == list(range(1, len(ours) + 1))


def test_index_keyword_search_finds_what_lance_fts_finds(lance_indexed: LanceStore) -> None:
    index = CatalogueIndex.load(lance_indexed)
    every = ProductFilters(include_discontinued=True)
    for p in PRODUCTS:  # a product's own name: both engines put that product first
        ours = index.keyword_search(p.name, 3, every)
        theirs = lance_indexed.keyword_search(p.name, 3, every)
        assert ours[0].product.product_id == theirs[0].product.product_id == p.product_id
    # filters apply, nothing without a shared 2-gram is a hit, and blank text finds nothing
    deposits = index.keyword_search("정기예금", 10, ProductFilters(product_types=[PRODUCTS[1].product_type]))
    assert deposits and {h.product.product_type for h in deposits} == {PRODUCTS[1].product_type}
    assert index.keyword_search("zzqq", 5, every) == [] and index.keyword_search("  ", 5, every) == []
    hits = index.keyword_search("적금", 10, every)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_index_search_modes_are_search_products_over_the_index(lance_indexed: LanceStore) -> None:
    index = CatalogueIndex.load(lance_indexed)
    q = VECTORS[0].tolist()
    engine = CatalogueSearch(index)
    for mode in SearchMode:
        ours = engine.search("정기예금 금리", q, E5.embedder, ProductFilters(), 5, mode)
        direct = search_products(engine, query_text="정기예금 금리", query_vector=q, embedder=E5.embedder,  # type: ignore[arg-type]
                                 filters=ProductFilters(), k=5, mode=mode)
        assert [h.product.product_id for h in ours] == [h.product.product_id for h in direct] and ours
    hybrid = engine.search("정기예금 금리", q, E5.embedder, ProductFilters(), 5)
    vec = {h.product.product_id for h in engine.vector_search(q, 15, ProductFilters(), E5.embedder)}
    kw = {h.product.product_id for h in engine.keyword_search("정기예금 금리", 15, ProductFilters())}
    assert {h.product.product_id for h in hybrid} <= vec | kw  # RRF only reorders what either found


def test_index_vectors_mismatch_and_empty(lance_indexed: LanceStore, tmp_path: Path) -> None:
    index = CatalogueIndex.load(lance_indexed)
    pid = PRODUCTS[2].product_id
    got = index.vectors([pid, "missing"])
    assert list(got) == [pid] and np.allclose(got[pid], VECTORS[2], atol=1e-6)
    assert lance_indexed.product_vectors([pid, "missing"]).keys() == {pid}
    with pytest.raises(EmbedderMismatchError):
        index.vector_search(VECTORS[0].tolist(), 3, ProductFilters(), "e5:another-model")
    empty = CatalogueIndex.load(LanceStore(tmp_path / "empty"))
    assert len(empty) == 0 and empty.vector_search([0.0] * 16, 3, ProductFilters(), "any") == []


# =============================================================================================
# chat logs: ids, batching writer, batch write on every store, admin reports
# =============================================================================================
def _log(i: int, user: str, at: datetime, kind: str = "chat", generator: str = "offline") -> ChatLog:
    return answer_log(log_id=f"log_{i:032x}", user_id=user, kind=kind, question=f"질문 {i}", answer="답변",  # type: ignore[arg-type]
                      product_ids=["p1", "p1", "p2"], generator=generator, latency_ms=10.0 + i, created_at=at)


def test_log_ids_and_records() -> None:
    assert is_log_id(new_log_id()) and not is_log_id("log_xyz")
    log = _log(1, "U0000001", datetime(2026, 11, 1, tzinfo=UTC))
    assert log.product_ids == ["p1", "p2"] and log.latency_ms == 11.0
    fb = feedback_record(user_id="U0000001", target="product", target_id="p1", rating="like", comment="  ")
    assert fb.comment is None and fb.feedback_id.startswith("fb_") and fb.created_at.tzinfo is not None


class CountingLance(LanceStore):
    def __init__(self, path: Path, fail_first: int = 0) -> None:
        super().__init__(path)
        self.batches: list[int] = []
        self.fail_first = fail_first

    def add_chat_logs(self, logs: Sequence[ChatLog]) -> None:
        if self.fail_first > 0:
            self.fail_first -= 1
            raise OSError("disk full")
        self.batches.append(len(logs))
        super().add_chat_logs(logs)


def test_writer_batches_and_flushes_on_close(tmp_path: Path) -> None:
    store = CountingLance(tmp_path / "l")
    writer = BufferedLogWriter(store, flush_interval_s=60, max_batch=100)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(250):
        writer.submit(_log(i, "U0000001", t0 + timedelta(seconds=i)))
    writer.close()
    assert sum(store.batches) == 250 and max(store.batches) <= 100 and len(store.batches) <= 5
    assert store.chat_logs(limit=1)[1] == 250 and writer.pending == 0
    with pytest.raises(RuntimeError):
        writer.submit(_log(999, "U0000001", t0))


def test_writer_keeps_logs_when_a_write_fails(tmp_path: Path) -> None:
    store = CountingLance(tmp_path / "l", fail_first=1)
    writer = BufferedLogWriter(store, flush_interval_s=60, max_batch=10)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(5):
        writer.submit(_log(i, "U0000001", t0 + timedelta(seconds=i)))
    assert writer.flush() == 0 and writer.pending == 5 and writer.failures == 1
    assert writer.flush() == 5 and writer.pending == 0
    page, total = store.chat_logs()
    assert total == 5 and [p.question for p in page] == [f"질문 {i}" for i in range(4, -1, -1)]
    writer.close()


def test_writer_masks_pii_before_the_store_even_after_a_failed_write(tmp_path: Path) -> None:
    store = CountingLance(tmp_path / "l", fail_first=1)
    writer = BufferedLogWriter(store, flush_interval_s=60, max_batch=10)
    t = datetime(2026, 11, 1, tzinfo=UTC)
    writer.submit(answer_log(
        log_id=new_log_id(), user_id="U0000001", kind="chat",
        question="제 번호 010-1234-5678, 계좌 110-123-456789 로 넣을 예금 추천", answer="「예금」 연 3.20%, 12개월",
        product_ids=[], generator="offline", latency_ms=1, created_at=t,
    ))
    assert writer.flush() == 0 and writer.flush() == 1  # the first write failed, the retry stored it
    [stored], _ = store.chat_logs()
    assert stored.question == "제 번호 [전화번호], 계좌 [계좌번호] 로 넣을 예금 추천"
    assert stored.answer == "「예금」 연 3.20%, 12개월"  # product numbers untouched
    fb = feedback_record(user_id="U0000001", target="product", target_id="p1", rating="like",
                         comment="메일 a.b@example.com 로 연락 주세요")
    assert fb.comment == "메일 [이메일] 로 연락 주세요"
    writer.close()


def test_writer_flushes_in_the_background(tmp_path: Path) -> None:
    import time

    store = CountingLance(tmp_path / "l")
    writer = BufferedLogWriter(store, flush_interval_s=0.05, max_batch=10)
    writer.submit(_log(1, "U0000001", datetime(2026, 11, 1, tzinfo=UTC)))
    deadline = time.monotonic() + 5
    while store.batches != [1] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.batches == [1]
    writer.close()


def test_batch_write_and_admin_reports_on_every_store(backend: Backend) -> None:  # noqa: F811
    s = backend.store
    d1 = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
    d2 = datetime(2026, 8, 2, 23, 59, tzinfo=UTC)
    d4 = datetime(2026, 8, 4, 0, 0, tzinfo=UTC)
    logs = [
        _log(1, "u1", d1), _log(2, "u1", d1 + timedelta(minutes=1), kind="recommendation"),
        _log(3, "u2", d2, generator="gemini→offline"), _log(4, "u2", d2 + timedelta(seconds=30), generator="gemini"),
        _log(5, "u3", d4, kind="recommendation"),
    ]
    s.add_chat_logs(logs[:3])
    s.add_chat_logs(logs[2:])  # overlapping batch: upserts by log_id, no duplicate
    assert s.chat_logs(limit=10)[1] == 5
    for f in (
        Feedback(feedback_id="f1", user_id="u1", target="product", target_id="p1", rating="like", created_at=d1),
        Feedback(feedback_id="f2", user_id="u2", target="answer", target_id=logs[2].log_id, rating="dislike", created_at=d2),
        Feedback(feedback_id="f3", user_id="u3", target="product", target_id="p1", rating="dislike", created_at=d4),
    ):
        s.add_feedback(f)

    everything = admin_report.window(None, None)
    ov = admin_report.overview_report(s, everything)
    assert (ov.users_active, ov.conversations, ov.recommendations, ov.api_requests) == (3, 3, 2, 5)
    assert (ov.feedback_total, ov.likes, ov.dislikes) == (3, 1, 2)
    assert ov.fallback_rate == round(1 / 3, 4) and ov.avg_latency_ms == 13.0

    # both ends inclusive, whole UTC days: 23:59 on Aug 2 is inside "end=2026-08-02"
    aug1_2 = admin_report.window(date(2026, 8, 1), date(2026, 8, 2))
    ov12 = admin_report.overview_report(s, aug1_2)
    assert (ov12.api_requests, ov12.feedback_total, ov12.users_active) == (4, 2, 2)
    days = admin_report.trends_report(s, admin_report.trend_window(date(2026, 8, 1), date(2026, 8, 4), date(2026, 8, 4)))
    assert [(d.day.day, d.conversations, d.api_requests) for d in days] == [(1, 1, 2), (2, 2, 2), (3, 0, 0), (4, 0, 1)]
    dist = admin_report.feedback_report(s, admin_report.window(date(2026, 8, 2), None))
    assert dist.total == 2 and dist.by_rating == {"dislike": 2} and dist.top_disliked_products == [("p1", 1)]
    usage = admin_report.usage_report(s, everything)
    assert [(u.user_id, u.api_requests, u.conversations, u.feedback) for u in usage] == [
        ("u1", 2, 1, 1), ("u2", 2, 2, 1), ("u3", 1, 0, 1)
    ]


def test_report_windows_are_validated() -> None:
    with pytest.raises(admin_report.WindowError, match="start .* is after end"):
        admin_report.window(date(2026, 9, 2), date(2026, 9, 1))
    w = admin_report.trend_window(None, None, date(2026, 11, 30))
    assert (w.start, w.end) == (date(2026, 11, 1), date(2026, 11, 30))
    with pytest.raises(admin_report.WindowError, match="366"):
        admin_report.trend_window(date(2025, 1, 1), date(2026, 6, 1), date(2026, 6, 1))


# =============================================================================================
# HTTP plumbing: SSE, request ids, error details, memo
# =============================================================================================
def test_sse_frames_round_trip_text_with_line_breaks() -> None:
    data = {"text": "첫 줄\n\n둘째 줄 \"따옴표\"", "n": 1}
    raw = sse.frame("delta", data, 7)
    assert raw.decode().startswith("id: 7\nevent: delta\ndata: {") and raw.endswith(b"\n\n")
    assert raw.decode().count("\n") == 4  # the payload's line breaks are escaped inside JSON
    assert sse.parse((raw + sse.frame("done", {"ok": True})).decode()) == [("delta", data), ("done", {"ok": True})]
    with pytest.raises(ValueError):
        sse.frame("bad\nname", {})


def test_request_ids_and_endpoint_templates() -> None:
    def scope(headers: list[tuple[bytes, bytes]], **kw: Any) -> dict[str, Any]:
        return {"headers": headers, **kw}

    assert request_id_from(scope([(b"x-request-id", b"abc-123.x")])) == "abc-123.x"
    generated = request_id_from(scope([(b"x-request-id", b"bad id\nwith newline")]))
    assert len(generated) == 32 and generated != "bad id\nwith newline"
    assert len(request_id_from(scope([(b"x-request-id", b"a" * 200)]))) == 32
    s = scope([], route=object(), path="/api/v1/logs/U0000001", path_params={"user_id": "U0000001"})
    assert endpoint_of(s) == "/api/v1/logs/{user_id}"
    assert endpoint_of(scope([], path="/nope")) == "unmatched"


class _Body(BaseModel):
    k: int = Field(ge=1, le=10)
    name: str


def test_validation_details_name_the_field() -> None:
    try:
        _Body.model_validate({"k": 99})
    except ValidationError as err:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in err.errors()]
    detail = validation_detail(RequestValidationError(errors))
    assert "k: Input should be less than or equal to 10" in detail and "name: is required" in detail
    query = RequestValidationError([{"type": "int_parsing", "loc": ("query", "k"), "msg": "Input should be a valid integer"}])
    assert validation_detail(query) == "query k: Input should be a valid integer"


def test_ttl_cache_expires_and_counts() -> None:
    seen: list[bool] = []
    cache: TTLCache[str, int] = TTLCache(ttl_s=0.05, max_items=2, observer=seen.append)
    assert cache.get_or_load("a", lambda: 1) == 1 and cache.get_or_load("a", lambda: 2) == 1
    cache.put("b", 2)
    cache.put("c", 3)  # evicts the least recently used ("a")
    assert cache.peek("a") is None and cache.peek("c") == 3
    import time

    time.sleep(0.06)
    assert cache.peek("c") is None
    assert seen == [False, True, False, True, False]


# =============================================================================================
# the Serve config file
# =============================================================================================
def test_serve_config_is_valid_and_fits_two_cpus() -> None:
    import yaml
    from ray.serve.schema import ServeDeploySchema

    from serve_apps.advisor import Advisor
    from serve_apps.forecaster import Forecaster
    from serve_apps.ingress import Ingress
    from serve_apps.query_embedder import QueryEmbedder
    from serve_apps.reranker import Reranker
    from serve_apps.retriever import Retriever

    cfg = yaml.safe_load((Path(__file__).parents[1] / "serve_apps" / "serve_config.yaml").read_text())
    schema = ServeDeploySchema.model_validate(cfg)
    assert (schema.http_options.host, schema.http_options.port) == ("127.0.0.1", 8000)
    [app] = schema.applications
    assert app.import_path == "serve_apps.app:app" and app.route_prefix == "/"
    classes = {d.name: d for d in (Ingress, QueryEmbedder, Retriever, Reranker, Advisor, Forecaster)}
    assert {d.name for d in app.deployments} == set(classes)
    at_max = 0.0
    for d in app.deployments:
        auto = d.autoscaling_config
        assert d.max_ongoing_requests and auto and 1 <= auto["min_replicas"] <= auto["max_replicas"]
        assert auto["target_ongoing_requests"] <= d.max_ongoing_requests
        cpus = d.ray_actor_options.num_cpus
        assert 0 < cpus < 1  # fractional: the whole app shares two CPUs
        at_max += cpus * auto["max_replicas"]
        # the file and the decorators agree (the decorators are what `serve run` uses)
        deployment = classes[d.name]
        assert deployment.max_ongoing_requests == d.max_ongoing_requests
        assert deployment.ray_actor_options["num_cpus"] == cpus
    assert at_max <= 2.0 + 1e-9  # every deployment at max_replicas fits the 2-CPU machine


# =============================================================================================
# the route table: who may call what (serve_apps/routes/__init__.py)
# =============================================================================================
def test_every_api_route_is_authenticated_rate_limited_and_scoped(tmp_path: Path) -> None:
    """The route table as a client meets it (no Serve): every /api/v1 route outside /auth is
    401 without a token (the rate-limit dependency authenticates before anything else runs),
    user-scoped routes are 403 for another customer, admin routes 403 for a customer, and
    status, web and auth routes declare no security in the OpenAPI schema."""
    from fastapi.testclient import TestClient

    from finray.config import load_settings
    from finray.users.db import create_readonly_engine
    from serve_apps.api import create_app
    from serve_apps.deps import Services

    settings = load_settings(FINRAY_HOME=str(tmp_path / "home"), AUTH_ADMIN_USER_IDS="U0000002")
    services = Services(settings=settings, store=None, user_db=create_readonly_engine(settings.resolved_user_db_url),  # type: ignore[arg-type]
                        embedder_name="e5", handles={}, log_writer=None)  # type: ignore[arg-type]
    app = create_app(services)
    customer = {"Authorization": f"Bearer {app.state.auth.tokens.issue('U0000001').access_token}"}
    client = TestClient(app)
    paths = client.get("/openapi.json").json()["paths"]
    checked = 0
    for template, operations in paths.items():
        for method, operation in operations.items():
            secured = bool(operation.get("security"))
            if not template.startswith("/api/v1/") or template.startswith("/api/v1/auth/"):
                assert not secured or template.startswith("/api/v1/auth/"), template  # public
                continue
            assert secured, f"{method.upper()} {template} declares no Bearer security"
            path = template.replace("{user_id}", "U0000003")
            r = client.request(method, path, json={})
            assert r.status_code == 401 and r.json()["error"] == "unauthorized", (template, r.text)
            if "{user_id}" in template or template.startswith("/api/v1/admin/"):
                r = client.request(method, path, headers=customer, json={})
                reason = "admin_required" if template.startswith("/api/v1/admin/") else "not_own_user_id"
                assert r.status_code == 403 and r.json()["reason"] == reason, (template, r.text)
            checked += 1
    assert checked >= 13  # search, recommendations, chat, feedback, vectorize, 6 admin, 2 forecast
    assert {"/", "/api/v1/forecast", "/api/v1/forecast/stream", "/api/v1/auth/dev-login"} <= set(paths)
    assert client.get("/app/").status_code == 200  # the web front end is mounted and public


def test_offline_answer_quoting_conditions_that_name_other_products_verifies() -> None:
    """Real 우대조건 texts name other products ("WON통장", "iM함께예금"); quoting them is not a hallucination."""
    from finray.agent.offline import offline_answer
    from finray.agent.verify import verify_answer
    from finray.products.snapshot import load_snapshot
    from finray.retrieval.rerank import rerank

    savings = load_snapshot(seen_on=date(2026, 11, 22), sources=["finlife:saving"])["finlife:saving"].products
    chosen = [p for p in savings if p.name in ("WON적금", "iM함께적금")]
    assert len(chosen) == 2 and all("통장" in (p.preferential_conditions or "") or "예금" in (p.preferential_conditions or "")
                                    for p in chosen)
    hits = [ProductHit(product=p, score=1.0 - i / 10, rank=i + 1) for i, p in enumerate(chosen)]
    ranked = rerank(hits, risk_profile=3, feedback=[], liked_vectors={}, hit_vectors=None, k=2).ranked
    text, cited = offline_answer(ranked, PERSONA, "적금 추천해 주세요")
    assert "WON통장" in text or "iM함께예금" in text
    v = verify_answer(text, cited, [r.product for r in ranked], context="적금 추천해 주세요", require_items=True)
    assert v.ok, v.problems
    # a product name that is in no candidate's data is still caught
    bad = verify_answer(text + "\n「WON플러스예금」도 좋습니다.", cited, [r.product for r in ranked])
    assert not bad.ok


def test_product_vectors_batch_read_on_every_store(backend: Backend) -> None:  # noqa: F811
    s = backend.store
    s.upsert_product_vectors(PRODUCTS, VECTORS.tolist(), E5)
    ids = [p.product_id for p in PRODUCTS]
    got = s.product_vectors([*ids, "missing", ids[0]])
    assert set(got) == set(ids)
    for pid in ids:
        assert np.allclose(got[pid], s.product_vector(pid), atol=1e-6)
    assert s.product_vectors([]) == {}
