"""Retriever: hybrid product search (vector + keyword, fused by RRF) over the configured store."""

from __future__ import annotations

from ray import serve

from finray.config import load_settings
from finray.retrieval.search import SearchMode, search_products
from finray.stores.base import ProductFilters, ProductHit
from finray.stores.factory import open_store


@serve.deployment(
    max_ongoing_requests=32,
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 8},
    ray_actor_options={"num_cpus": 0.25},
)
class Retriever:
    def __init__(self) -> None:
        self._store = open_store(load_settings())

    def search(
        self, query_text: str, query_vector: list[float] | None, embedder: str,
        filters: ProductFilters, k: int, mode: str = "hybrid",
    ) -> list[ProductHit]:
        return search_products(
            self._store, query_text=query_text, query_vector=query_vector, embedder=embedder,
            filters=filters, k=k, mode=SearchMode(mode),
        )

    def product_vectors(self, product_ids: list[str]) -> dict[str, list[float]]:
        out = {}
        for pid in product_ids:
            v = self._store.product_vector(pid)
            if v is not None:
                out[pid] = v
        return out
