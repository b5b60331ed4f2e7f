"""Advisor: the LangGraph agent (persona → retrieve → rerank → generate → verify) on Serve.

The graph and its per-request logic are :class:`finray.agent.service.AdvisorService`; this
deployment supplies its data through :class:`ServeSources`: personas, user vectors and feedback
are read here (the user DB and the store), while query embedding, search and reranking go to the
QueryEmbedder, Retriever and Reranker deployments through DeploymentHandles. The methods are
sync (Serve runs them in worker threads, where waiting on a handle is allowed) because LangGraph
runs the graph's nodes synchronously in the calling thread.
"""

from __future__ import annotations

from collections.abc import Iterator

from ray import serve
from ray.serve.handle import DeploymentHandle

from finray.agent.gemini import chat_model_from_settings
from finray.agent.service import AdviceDelta, AdviceEvent, AdviceMeta, AdviceRequest, AdviceResult, AdvisorService
from finray.agent.sources import LocalSources
from finray.advice.pipeline import IntentHits
from finray.agent.state import IntentOverrides, Persona
from finray.intent.model import QueryIntent
from finray.config import load_settings
from finray.embeddings.factory import embedder_identity
from finray.retrieval.rerank import RerankResult
from finray.stores.base import Feedback, ProductFilters, ProductHit
from finray.stores.factory import open_store
from finray.users.db import create_readonly_engine
from serve_apps.observability import ServeMetrics, adopt_domain_loggers

HANDLE_TIMEOUT_S = 30.0


class ServeSources(LocalSources):
    """:class:`LocalSources` with embedding, search and reranking done by other deployments."""

    def __init__(
        self, local: LocalSources, embedder: DeploymentHandle, retriever: DeploymentHandle, reranker: DeploymentHandle,
    ) -> None:
        super().__init__(local.store, local.user_db, None, None, embedder_name=local.embedder_name)
        self._embedder_handle = embedder
        self._retriever = retriever
        self._reranker = reranker

    def embed_query(self, text: str) -> list[float]:
        return self._embedder_handle.embed_query.remote(text).result(timeout_s=HANDLE_TIMEOUT_S)

    def embed_passage(self, text: str) -> list[float]:
        return self._embedder_handle.embed_passage.remote(text).result(timeout_s=HANDLE_TIMEOUT_S)

    def search(self, text: str, vector: list[float] | None, filters: ProductFilters, k: int) -> list[ProductHit]:
        return self._retriever.search.remote(text, vector, self.embedder_name, filters, k).result(
            timeout_s=HANDLE_TIMEOUT_S
        )

    def understand(self, question: str | None, overrides: IntentOverrides) -> QueryIntent:
        return self._retriever.understand.remote(question, overrides).result(timeout_s=HANDLE_TIMEOUT_S)

    def search_intent(
        self, text: str, vector: list[float] | None, intent: QueryIntent, filters: ProductFilters, k: int
    ) -> IntentHits:
        return self._retriever.search_intent.remote(text, vector, self.embedder_name, intent, filters, k).result(
            timeout_s=HANDLE_TIMEOUT_S
        )

    def rerank(self, hits: list[ProductHit], persona: Persona, feedback: list[Feedback], k: int) -> RerankResult:
        return self._reranker.rerank.remote(hits, persona.risk_profile, feedback, k, persona.user_id).result(
            timeout_s=HANDLE_TIMEOUT_S
        )


@serve.deployment(
    max_ongoing_requests=32,
    autoscaling_config={
        "min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 8,
        "upscale_delay_s": 10, "downscale_delay_s": 300,
    },
    ray_actor_options={"num_cpus": 0.15},
)
class Advisor:
    def __init__(self, embedder: DeploymentHandle, retriever: DeploymentHandle, reranker: DeploymentHandle) -> None:
        adopt_domain_loggers()
        settings = load_settings()
        self._metrics = ServeMetrics()
        local = LocalSources(
            open_store(settings), create_readonly_engine(settings.resolved_user_db_url), None, None,
            embedder_name=embedder_identity(settings)[0],
        )
        sources = ServeSources(local, embedder, retriever, reranker)
        sources.personas.observer = self._metrics.cache_observer("persona")
        sources.user_vectors.observer = self._metrics.cache_observer("user_vector")
        self._service = AdvisorService(sources, chat_model_from_settings(settings))

    def recommend(self, request: AdviceRequest) -> AdviceResult:
        result = self._service.recommend(request)
        self._metrics.stages(result.timings_ms)
        return result

    def stream(self, request: AdviceRequest) -> Iterator[list[AdviceEvent]]:
        """The advice events in batches: each batch is sent as soon as waiting would delay it.

        Every streamed item is a message to the ingress (and on to the proxy), so events produced
        back to back travel together: the first text chunk is flushed at once (time to first
        token), and so is ``meta`` when a model will take a while; the rest — produced together
        once the answer exists — goes with ``done``. The client still receives one SSE event per
        chunk.
        """
        pending: list[AdviceEvent] = []
        sent_text = False
        for event in self._service.stream(request):
            pending.append(event)
            if isinstance(event, AdviceResult):
                self._metrics.stages(event.timings_ms)
            flush = (isinstance(event, AdviceDelta) and not sent_text) or (
                isinstance(event, AdviceMeta) and event.generator != "offline"
            )
            if flush:
                sent_text = sent_text or isinstance(event, AdviceDelta)
                yield pending
                pending = []
        if pending:
            yield pending
