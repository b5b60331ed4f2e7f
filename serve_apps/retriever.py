"""Retriever: product search in three modes — hybrid (vector + keyword, fused by RRF), vector, keyword.

Both sides run on an in-memory copy of the searchable catalogue, loaded from the store and
reloaded every few minutes: exact cosine over the ~1,200 product vectors, and BM25 over Kiwi
morphemes or character 2-grams (``FINRAY_KEYWORD_TOKENIZER``, :mod:`finray.retrieval.keyword`) —
each well under a millisecond, against tens of milliseconds of CPU per store query. Why, and how
the results compare with the store's own search, is in :mod:`finray.retrieval.memory_index`.
"""

from __future__ import annotations

from ray import serve

from finray.advice.pipeline import IntentHits, intent_search_for
from finray.agent.state import IntentOverrides
from finray.config import load_settings
from finray.intent.model import QueryIntent
from finray.retrieval.memory_index import CatalogueSearch, LiveIndex
from finray.retrieval.search import SearchMode
from finray.stores.base import ProductFilters, ProductHit
from finray.stores.factory import open_store
from serve_apps.observability import adopt_domain_loggers

#: Seconds between reloads of the in-memory catalogue (the data jobs run daily).
CATALOGUE_REFRESH_S = 300.0


@serve.deployment(
    max_ongoing_requests=32,
    autoscaling_config={
        "min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 8,
        "upscale_delay_s": 10, "downscale_delay_s": 300,
    },
    ray_actor_options={"num_cpus": 0.1},
)
class Retriever:
    def __init__(self) -> None:
        adopt_domain_loggers()
        settings = load_settings()
        self._store = open_store(settings)
        self._catalogue = LiveIndex(
            self._store, refresh_s=CATALOGUE_REFRESH_S, tokenizer=settings.keyword_tokenizer
        )

    def search(
        self, query_text: str, query_vector: list[float] | None, embedder: str,
        filters: ProductFilters, k: int, mode: str = "hybrid", candidates: int | None = None,
    ) -> list[ProductHit]:
        return CatalogueSearch(self._catalogue.current).search(
            query_text, query_vector, embedder, filters, k, SearchMode(mode), candidates
        )

    def understand(self, question: str | None, overrides: IntentOverrides) -> QueryIntent:
        """What a question asks, read against this catalogue's providers (:mod:`finray.intent`)."""
        return intent_search_for(self._catalogue.current).understand(question, **overrides.as_kwargs())

    def search_intent(
        self, query_text: str, query_vector: list[float] | None, embedder: str, intent: QueryIntent,
        filters: ProductFilters, k: int, mode: str = "hybrid",
    ) -> IntentHits:
        """Hits that satisfy ``intent``, in its objective's order (:mod:`finray.advice.pipeline`)."""
        return intent_search_for(self._catalogue.current).search(
            query_text, query_vector, embedder, intent, filters, k, mode
        )

    def product_vectors(self, product_ids: list[str]) -> dict[str, list[float]]:
        out = self._catalogue.current.vectors(product_ids)
        missing = [pid for pid in product_ids if pid not in out]
        if missing:  # indexed after the last reload
            out.update(self._store.product_vectors(missing))
        return out

    def indexed(self) -> int:
        return len(self._catalogue.current)

    def __del__(self) -> None:
        self._catalogue.close()
