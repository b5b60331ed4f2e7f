"""An in-memory copy of the searchable catalogue for vector and keyword search in serving.

Why: the catalogue is small (≈1,200 products, 1.8 MB of 384-d vectors) and changes once a day,
while every recommendation and chat question needs a vector search. Asking the store costs a
round trip plus reading and validating every hit's document (tens of ms on LanceDB, a network
hop to Atlas); a matrix product over the whole catalogue costs well under a millisecond and is
*exact* (no ANN recall loss). The store stays the system of record: the index is loaded from it
(:meth:`~finray.stores.base.Store.product_vectors`, ``get_products``) and reloaded periodically
by its owner (the Retriever deployment).

Keyword search is in memory too: :class:`~finray.retrieval.keyword.KeywordIndex`, BM25 over
``rag_text`` and ``name`` cut into Kiwi morphemes or character 2-grams (the ``keyword_tokenizer``
setting; the owner passes it to :meth:`CatalogueIndex.load`). With 2-grams the evidence is that
of the embedded LanceDB full-text index; with morphemes it is not, so the two engines' keyword
rankings differ, though a product's own name puts it first in both (``tests/test_serve_units.py``).
Keyword results only feed RRF by *rank*; the stores' own full-text search (Atlas: Nori + bigrams)
stays available to jobs and tools through :class:`~finray.stores.base.Store`.

Filters mean exactly what they mean inside the stores: the flat values come from the same
:func:`finray.stores.records.search_fields` the backends index, and a test runs the same vector
queries against this index and LanceDB and requires identical hit lists and scores.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from finray.products.model import Product
from finray.retrieval.keyword import DEFAULT_TOKENIZER, KeywordIndex, Tokenizer, bigrams
from finray.retrieval.search import SearchMode, search_products
from finray.stores import records
from finray.stores.base import EmbedderMismatchError, IndexInfo, ProductFilters, ProductHit, Store

log = logging.getLogger(__name__)

# KeywordIndex and bigrams live in finray.retrieval.keyword; re-exported for existing imports.
__all__ = ["CatalogueIndex", "CatalogueSearch", "KeywordIndex", "LiveIndex", "bigrams"]


@dataclass(frozen=True)
class CatalogueIndex:
    """Products, their unit vectors as one matrix, and the flat filter columns."""

    info: IndexInfo | None
    products: tuple[Product, ...]
    matrix: np.ndarray  # (n, dim) float32, rows L2-normalized
    product_type: np.ndarray  # (n,) str
    provider: np.ndarray  # (n,) str
    risk_level: np.ndarray  # (n,) int
    is_active: np.ndarray  # (n,) bool
    max_limit: np.ndarray  # (n,) int64, records.NO_MAX_LIMIT when none is published
    terms: tuple[frozenset[int], ...]
    hashes: dict[str, str]  # product_id -> content_hash at load time
    position: dict[str, int]  # product_id -> row
    keywords: KeywordIndex

    @classmethod
    def empty(cls, tokenizer: Tokenizer = DEFAULT_TOKENIZER) -> CatalogueIndex:
        return cls.build(None, [], [], tokenizer=tokenizer)

    @classmethod
    def build(
        cls, info: IndexInfo | None, products: Sequence[Product], vectors: Sequence[Sequence[float]],
        tokenizer: Tokenizer = DEFAULT_TOKENIZER,
    ) -> CatalogueIndex:
        """Index ``products`` with their ``vectors`` (same order), sorted by id for stable ties;
        keyword search cuts text with ``tokenizer``."""
        pairs = sorted(zip(products, vectors, strict=True), key=lambda pv: pv[0].product_id)
        dim = info.dim if info else 0
        matrix = np.asarray([v for _, v in pairs], dtype=np.float32).reshape(len(pairs), dim)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix / np.where(norms == 0, 1.0, norms)
        fields = [records.search_fields(p) for p, _ in pairs]
        return cls(
            info=info,
            products=tuple(p for p, _ in pairs),
            matrix=matrix,
            product_type=np.asarray([f["product_type"] for f in fields], dtype=object),
            provider=np.asarray([f["provider"] for f in fields], dtype=object),
            risk_level=np.asarray([f["risk_level"] for f in fields], dtype=np.int32),
            is_active=np.asarray([f["is_active"] for f in fields], dtype=bool),
            max_limit=np.asarray([f["max_limit"] for f in fields], dtype=np.int64),
            terms=tuple(frozenset(f["terms"]) for f in fields),
            hashes={p.product_id: p.content_hash for p, _ in pairs},
            position={p.product_id: i for i, (p, _) in enumerate(pairs)},
            keywords=KeywordIndex.build([p for p, _ in pairs], tokenizer),
        )

    @classmethod
    def load(cls, store: Store, tokenizer: Tokenizer = DEFAULT_TOKENIZER) -> CatalogueIndex:
        """Read every indexed product and its vector from ``store`` (discontinued ones too)."""
        info = store.product_index_info()
        ids = sorted(store.product_vector_hashes())
        if info is None or not ids:
            return cls.build(info, [], [], tokenizer=tokenizer)
        products = store.get_products(ids)
        vectors = store.product_vectors([p.product_id for p in products])
        kept = [p for p in products if p.product_id in vectors]
        return cls.build(info, kept, [vectors[p.product_id] for p in kept], tokenizer=tokenizer)

    def __len__(self) -> int:
        return len(self.products)

    def mask(self, filters: ProductFilters) -> np.ndarray:
        """Rows passing ``filters`` (same semantics as the stores' pre-filters)."""
        n = len(self.products)
        keep = np.ones(n, dtype=bool)
        if filters.product_types:
            keep &= np.isin(self.product_type, [t.value for t in filters.product_types])
        if filters.providers:
            keep &= np.isin(self.provider, list(filters.providers))
        if filters.term_months is not None:
            term = int(filters.term_months)
            keep &= np.fromiter((term in t for t in self.terms), dtype=bool, count=n)
        if filters.max_risk_grade_riskiest is not None:
            keep &= self.risk_level >= int(filters.max_risk_grade_riskiest)
        if filters.min_limit_krw is not None:
            keep &= self.max_limit >= int(filters.min_limit_krw)
        if not filters.include_discontinued:
            keep &= self.is_active
        return keep

    def vector_search(self, vector: Sequence[float], k: int, filters: ProductFilters, embedder: str) -> list[ProductHit]:
        """Exact cosine search; the score is the cosine similarity, as the stores report it."""
        if self.info is not None and (self.info.embedder, self.info.dim) != (embedder, len(vector)):
            raise EmbedderMismatchError(
                f"product index was built with {self.info.embedder} ({self.info.dim}-d) but the query "
                f"vector is {embedder} ({len(vector)}-d): re-run embed_products with --force"
            )
        if k <= 0 or not self.products:
            return []
        rows = np.flatnonzero(self.mask(filters))
        if rows.size == 0:
            return []
        q = np.asarray(vector, dtype=np.float32)
        q = q / (np.linalg.norm(q) or 1.0)
        scores = self.matrix[rows] @ q
        top = min(k, rows.size)
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.lexsort((rows[best], -scores[best]))]  # score desc, then product_id order
        return [
            ProductHit(product=self.products[rows[i]], score=float(scores[i]), rank=rank)
            for rank, i in enumerate(best, start=1)
        ]

    def keyword_search(self, text: str, k: int, filters: ProductFilters) -> list[ProductHit]:
        """BM25 over the index's terms; products sharing no term with ``text`` are not hits."""
        if k <= 0 or not self.products or not text.strip():
            return []
        scores = self.keywords.scores(text)
        rows = np.flatnonzero(self.mask(filters) & (scores > 0))
        if rows.size == 0:
            return []
        top = min(k, rows.size)
        best = rows[np.lexsort((rows, -scores[rows]))][:top]  # score desc, then product_id order
        return [
            ProductHit(product=self.products[i], score=float(scores[i]), rank=rank)
            for rank, i in enumerate(best, start=1)
        ]

    def vectors(self, product_ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored (normalized) vectors of those products that are indexed."""
        return {pid: self.matrix[self.position[pid]].tolist() for pid in product_ids if pid in self.position}


class CatalogueSearch:
    """Search over a :class:`CatalogueIndex` in the three modes of the stores.

    It offers the two methods :func:`finray.retrieval.search.search_products` calls on a store,
    so the three modes and the RRF fusion are literally the same code as store-only search.
    """

    def __init__(self, index: CatalogueIndex) -> None:
        self.index = index

    def vector_search(self, vector: Sequence[float], k: int, filters: ProductFilters, embedder: str) -> list[ProductHit]:
        return self.index.vector_search(vector, k, filters, embedder)

    def keyword_search(self, text: str, k: int, filters: ProductFilters) -> list[ProductHit]:
        return self.index.keyword_search(text, k, filters)

    def search(
        self, text: str, vector: Sequence[float] | None, embedder: str, filters: ProductFilters,
        k: int, mode: SearchMode = SearchMode.HYBRID, candidates: int | None = None,
    ) -> list[ProductHit]:
        return search_products(
            self,  # type: ignore[arg-type]  # duck-typed: only the two search methods are used
            query_text=text, query_vector=vector, embedder=embedder, filters=filters, k=k,
            mode=SearchMode(mode), candidates=candidates,
        )


class LiveIndex:
    """A :class:`CatalogueIndex` kept fresh by a background thread.

    It reloads every ``refresh_s`` seconds (a full reload also picks up discontinued marks, which
    change no content hash; the first load with the morpheme tokenizer pays Kiwi for every text,
    later ones only for texts that changed). A failed reload keeps serving the previous index
    and logs why. Readers just take :attr:`current` (an immutable object swapped atomically).
    """

    def __init__(
        self, store: Store, refresh_s: float = 300.0, *, start_thread: bool = True,
        tokenizer: Tokenizer = DEFAULT_TOKENIZER,
    ) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._tokenizer = tokenizer
        self._stop = threading.Event()
        self.loaded_at = time.time()
        self.current = CatalogueIndex.load(store, tokenizer)
        self._thread: threading.Thread | None = None
        if start_thread and refresh_s > 0:
            self._thread = threading.Thread(target=self._run, name="catalogue-index-refresh", daemon=True)
            self._thread.start()

    def refresh(self) -> bool:
        try:
            index = CatalogueIndex.load(self._store, self._tokenizer)
        except Exception as err:  # noqa: BLE001 - keep serving the last good index
            log.warning("catalogue index reload failed, keeping %d products: %s", len(self.current), err)
            return False
        self.current, self.loaded_at = index, time.time()
        return True

    def _run(self) -> None:
        while not self._stop.wait(self._refresh_s):
            self.refresh()

    def close(self) -> None:
        self._stop.set()
