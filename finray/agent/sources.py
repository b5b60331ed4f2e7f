"""Where the advisor gets its data: an interface, and the in-process implementation.

:class:`~finray.agent.service.AdvisorService` runs the advisor graph for one request; everything
it reads goes through :class:`AdvisorSources`. :class:`LocalSources` reads the store, the user DB
and the embedder in the calling process (used by the benchmark's in-process baseline and by
tests); the Serve ``Advisor`` deployment subclasses it and sends embedding, search and reranking
to the other deployments through DeploymentHandles. The graph and the answer are identical either
way, which is what makes "Serve overhead = Serve time − in-process time" a fair measurement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Engine

from finray.advice.pipeline import IntentHits, intent_search_for
from finray.agent.state import IntentOverrides, Persona
from finray.intent.model import QueryIntent
from finray.embeddings.base import Embedder
from finray.memo import TTLCache
from finray.retrieval.memory_index import CatalogueSearch, LiveIndex
from finray.retrieval.personal import personal_rerank
from finray.retrieval.rerank import RerankResult
from finray.stores.base import Feedback, ProductFilters, ProductHit, Store
from finray.users.db import fetch_user

#: How long a persona read from the user DB is reused. The DB is read-only for the service and
#: changes upstream a few times a day at most; a minute of staleness saves 4 queries per request.
PERSONA_TTL_S = 60.0


class AdvisorSources(Protocol):
    """The reads the advisor needs for one answer."""

    @property
    def embedder_name(self) -> str: ...

    def persona(self, user_id: str) -> Persona | None:
        """The customer (투자성향 + persona text) from the user DB; ``None`` if unknown."""

    def user_vector(self, user_id: str) -> list[float] | None:
        """The stored persona vector, if one was built by the active embedder."""

    def embed_query(self, text: str) -> list[float]: ...

    def embed_passage(self, text: str) -> list[float]: ...

    def search(self, text: str, vector: list[float] | None, filters: ProductFilters, k: int) -> list[ProductHit]:
        """Hybrid search (vector + keyword, RRF); ``text`` may be empty (vector only)."""

    def understand(self, question: str | None, overrides: IntentOverrides) -> QueryIntent:
        """What the question asks (:mod:`finray.intent`), with the request's explicit fields applied."""

    def search_intent(
        self, text: str, vector: list[float] | None, intent: QueryIntent, filters: ProductFilters, k: int
    ) -> IntentHits:
        """Hits satisfying ``intent`` in its objective's order (:mod:`finray.advice.pipeline`)."""

    def feedback(self, user_id: str) -> list[Feedback]: ...

    def rerank(self, hits: list[ProductHit], persona: Persona, feedback: list[Feedback], k: int) -> RerankResult: ...


class LocalSources:
    """Every read in this process: store, user DB, a loaded embedder, the in-memory vector index.

    ``embedder`` and ``catalogue`` may be ``None`` when a subclass embeds and searches elsewhere
    (then pass ``embedder_name``).
    """

    def __init__(
        self, store: Store, user_db: Engine, embedder: Embedder | None, catalogue: LiveIndex | None,
        *, embedder_name: str | None = None,
    ) -> None:
        self.store = store
        self.user_db = user_db
        self.catalogue = catalogue
        self._embedder = embedder
        self._embedder_name = embedder_name or (embedder.name if embedder else "")
        self.personas: TTLCache[str, Persona | None] = TTLCache(PERSONA_TTL_S)
        self.user_vectors: TTLCache[str, list[float] | None] = TTLCache(PERSONA_TTL_S)

    @property
    def embedder_name(self) -> str:
        return self._embedder_name

    def persona(self, user_id: str) -> Persona | None:
        def load() -> Persona | None:
            record = fetch_user(self.user_db, user_id)
            return Persona.from_user_record(record) if record else None

        return self.personas.get_or_load(user_id, load)

    def user_vector(self, user_id: str) -> list[float] | None:
        """The stored persona vector (reused for ``PERSONA_TTL_S``, like the persona it encodes)."""

        def load() -> list[float] | None:
            stored = self.store.get_user_vector(user_id)
            if stored is None or stored.embedder != self.embedder_name:
                return None
            return stored.vector

        return self.user_vectors.get_or_load(user_id, load)

    def embed_query(self, text: str) -> list[float]:
        assert self._embedder is not None
        return self._embedder.embed_queries([text])[0].tolist()

    def embed_passage(self, text: str) -> list[float]:
        assert self._embedder is not None
        return self._embedder.embed_passages([text])[0].tolist()

    def search(self, text: str, vector: list[float] | None, filters: ProductFilters, k: int) -> list[ProductHit]:
        assert self.catalogue is not None
        return CatalogueSearch(self.catalogue.current).search(text, vector, self.embedder_name, filters, k)

    def understand(self, question: str | None, overrides: IntentOverrides) -> QueryIntent:
        assert self.catalogue is not None
        return intent_search_for(self.catalogue.current).understand(question, **overrides.as_kwargs())

    def search_intent(
        self, text: str, vector: list[float] | None, intent: QueryIntent, filters: ProductFilters, k: int
    ) -> IntentHits:
        assert self.catalogue is not None
        return intent_search_for(self.catalogue.current).search(text, vector, self.embedder_name, intent, filters, k)

    def feedback(self, user_id: str) -> list[Feedback]:
        return self.store.feedback(user_id)

    def product_vectors(self, product_ids: Sequence[str]) -> dict[str, list[float]]:
        """From the in-memory index; ids it does not hold (indexed since its load) from the store."""
        out = self.catalogue.current.vectors(product_ids) if self.catalogue is not None else {}
        missing = [pid for pid in product_ids if pid not in out]
        if missing:
            out.update(self.store.product_vectors(missing))
        return out

    def rerank(self, hits: list[ProductHit], persona: Persona, feedback: list[Feedback], k: int) -> RerankResult:
        return personal_rerank(
            hits, risk_profile=persona.risk_profile, feedback=feedback, k=k,
            user_id=persona.user_id, vectors_for=lambda ids: self.product_vectors(ids),
        )
