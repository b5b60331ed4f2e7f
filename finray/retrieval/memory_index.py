"""An in-memory copy of the searchable catalogue for vector and keyword search in serving.

Why: the catalogue is small (≈1,200 products, 1.8 MB of 384-d vectors) and changes once a day,
while every recommendation and chat question needs a vector search. Asking the store costs a
round trip plus reading and validating every hit's document (tens of ms on LanceDB, a network
hop to Atlas); a matrix product over the whole catalogue costs well under a millisecond and is
*exact* (no ANN recall loss). The store stays the system of record: the index is loaded from it
(:meth:`~finray.stores.base.Store.product_vectors`, ``get_products``) and reloaded periodically
by its owner (the Retriever deployment).

Keyword search is in memory too (:class:`KeywordIndex`): BM25 over character 2-grams of
``rag_text`` and ``name`` — the analyzer of the embedded LanceDB full-text index (2-grams,
lower-cased, ASCII-folded), scored per field and summed like LanceDB's multi-field match. A
LanceDB FTS query costs ~10–20 ms of CPU per request (query planning, reading the hits'
documents); the in-memory one under a millisecond. The rankings are close, not identical
(tokenizer details differ): on typical Korean queries about 7 of LanceDB's top 10 are in ours,
and a product's own name puts it first in both (``tests/test_serve_units.py``). Keyword results
only feed RRF by *rank*; the stores' own full-text search (Atlas: Nori + bigrams) stays available
to jobs and tools through :class:`~finray.stores.base.Store`.

Filters mean exactly what they mean inside the stores: the flat values come from the same
:func:`finray.stores.records.search_fields` the backends index, and a test runs the same vector
queries against this index and LanceDB and requires identical hit lists and scores.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from finray.products.model import Product
from finray.retrieval.search import SearchMode, search_products
from finray.stores import records
from finray.stores.base import EmbedderMismatchError, IndexInfo, ProductFilters, ProductHit, Store

log = logging.getLogger(__name__)


#: BM25 parameters (the usual defaults, also tantivy's, which LanceDB's full-text search uses).
BM25_K1, BM25_B = 1.2, 0.75


def bigrams(text: str) -> list[str]:
    """Character 2-grams of the whole text, case- and ASCII-folded, runs of whitespace as one space.

    That is LanceDB's ``ngram`` full-text configuration (its 2-grams span word boundaries too;
    "정기 예금" gives 정기, "기 ", " 예", 예금), so both rank by the same evidence.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())  # also full-width → ASCII
    folded = unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))
    folded = _SPACES_RE.sub(" ", folded).strip()
    return [folded[i : i + 2] for i in range(len(folded) - 1)]


_SPACES_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class _FieldIndex:
    """Per-term postings of one text field: document rows and their BM25 term weights."""

    postings: dict[str, tuple[np.ndarray, np.ndarray]]  # term -> (rows, tf-normalized weights)
    n_docs: int

    @classmethod
    def build(cls, texts: Sequence[str]) -> _FieldIndex:
        counts = [Counter(bigrams(t)) for t in texts]
        lengths = np.asarray([sum(c.values()) for c in counts], dtype=np.float32)
        avg = float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0
        rows: dict[str, list[int]] = defaultdict(list)
        tfs: dict[str, list[int]] = defaultdict(list)
        for row, c in enumerate(counts):
            for term, tf in c.items():
                rows[term].append(row)
                tfs[term].append(tf)
        postings = {}
        for term, r in rows.items():
            r_arr = np.asarray(r, dtype=np.int32)
            tf = np.asarray(tfs[term], dtype=np.float32)
            norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[r_arr] / avg)
            postings[term] = (r_arr, (tf * (BM25_K1 + 1) / (tf + norm)).astype(np.float32))
        return cls(postings=postings, n_docs=len(texts))

    def add_scores(self, terms: Sequence[str], scores: np.ndarray) -> None:
        for term in terms:
            got = self.postings.get(term)
            if got is None:
                continue
            rows, weights = got
            df = len(rows)
            idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5))
            np.add.at(scores, rows, idf * weights)


@dataclass(frozen=True)
class KeywordIndex:
    """BM25 over the 2-grams of ``rag_text`` and ``name`` (scores of the two fields summed)."""

    fields: tuple[_FieldIndex, ...]
    n_docs: int

    @classmethod
    def build(cls, products: Sequence[Product]) -> KeywordIndex:
        return cls(
            fields=(_FieldIndex.build([p.rag_text for p in products]), _FieldIndex.build([p.name for p in products])),
            n_docs=len(products),
        )

    def scores(self, text: str) -> np.ndarray:
        terms = list(dict.fromkeys(bigrams(text)))  # any shared 2-gram matches (OR), once each
        scores = np.zeros(self.n_docs, dtype=np.float32)
        for f in self.fields:
            f.add_scores(terms, scores)
        return scores


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
    terms: tuple[frozenset[int], ...]
    hashes: dict[str, str]  # product_id -> content_hash at load time
    position: dict[str, int]  # product_id -> row
    keywords: KeywordIndex

    @classmethod
    def empty(cls) -> CatalogueIndex:
        return cls.build(None, [], [])

    @classmethod
    def build(cls, info: IndexInfo | None, products: Sequence[Product], vectors: Sequence[Sequence[float]]) -> CatalogueIndex:
        """Index ``products`` with their ``vectors`` (same order), sorted by id for stable ties."""
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
            terms=tuple(frozenset(f["terms"]) for f in fields),
            hashes={p.product_id: p.content_hash for p, _ in pairs},
            position={p.product_id: i for i, (p, _) in enumerate(pairs)},
            keywords=KeywordIndex.build([p for p, _ in pairs]),
        )

    @classmethod
    def load(cls, store: Store) -> CatalogueIndex:
        """Read every indexed product and its vector from ``store`` (discontinued ones too)."""
        info = store.product_index_info()
        ids = sorted(store.product_vector_hashes())
        if info is None or not ids:
            return cls.build(info, [], [])
        products = store.get_products(ids)
        vectors = store.product_vectors([p.product_id for p in products])
        kept = [p for p in products if p.product_id in vectors]
        return cls.build(info, kept, [vectors[p.product_id] for p in kept])

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
        """BM25 over 2-grams; products sharing no 2-gram with ``text`` are not hits."""
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

    It reloads every ``refresh_s`` seconds (a full reload is ~1 s of one core for the bundled
    catalogue and also picks up discontinued marks, which change no content hash). A failed
    reload keeps serving the previous index and logs why. Readers just take :attr:`current`
    (an immutable object swapped atomically).
    """

    def __init__(self, store: Store, refresh_s: float = 300.0, *, start_thread: bool = True) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._stop = threading.Event()
        self.loaded_at = time.time()
        self.current = CatalogueIndex.load(store)
        self._thread: threading.Thread | None = None
        if start_thread and refresh_s > 0:
            self._thread = threading.Thread(target=self._run, name="catalogue-index-refresh", daemon=True)
            self._thread.start()

    def refresh(self) -> bool:
        try:
            index = CatalogueIndex.load(self._store)
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
