"""Product search in three modes over any store: vector, keyword, or hybrid (RRF of both).

Hybrid asks each backend for more candidates than it returns (``candidates``) so that fusion has
room to promote products that rank well in both lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from finray.retrieval.fusion import fuse_hits
from finray.stores.base import ProductFilters, ProductHit, Store


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    VECTOR = "vector"
    KEYWORD = "keyword"


def search_products(
    store: Store,
    *,
    query_text: str,
    query_vector: Sequence[float] | None,
    embedder: str,
    filters: ProductFilters,
    k: int = 10,
    mode: SearchMode = SearchMode.HYBRID,
    candidates: int | None = None,
) -> list[ProductHit]:
    """Top ``k`` products for a query; ``query_vector`` is required unless mode is keyword."""
    if mode is not SearchMode.KEYWORD and query_vector is None:
        raise ValueError(f"mode {mode.value} needs a query vector")
    n = max(k, candidates or 3 * k)
    if mode is SearchMode.VECTOR:
        return store.vector_search(list(query_vector or ()), k, filters, embedder)
    if mode is SearchMode.KEYWORD:
        return store.keyword_search(query_text, k, filters)
    vector_hits = store.vector_search(list(query_vector or ()), n, filters, embedder)
    keyword_hits = store.keyword_search(query_text, n, filters) if query_text.strip() else []
    return fuse_hits(vector_hits, keyword_hits, limit=k)
