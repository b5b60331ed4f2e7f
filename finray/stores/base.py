"""The store interface: catalogue, product vectors, user vectors, chat logs, feedback.

Two backends implement it: LanceDB on disk (the embedded default) and MongoDB Atlas (Vector
Search + Atlas Search). Both must pass the same contract suite (``tests/test_store_contract.py``).
Hybrid search is *not* here: backends answer vector and keyword queries separately and
:mod:`finray.retrieval.fusion` fuses them, so ranking is the same on every backend.

Records crossing this boundary are plain pydantic models; backends map them to rows/documents.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from finray.products.model import Product, ProductType


class StoreError(RuntimeError):
    """A store operation failed in a way the caller should report."""


class EmbedderMismatchError(StoreError):
    """The index was built by another embedder (or dimension) than the one querying it."""


class IndexInfo(BaseModel):
    """Which embedder built a vector collection; checked on every write and search."""

    embedder: str  # e.g. "e5:multilingual-e5-small-q4", "gemini:models/gemini-embedding-001"
    dim: int


class ProductFilters(BaseModel):
    """Filters both backends apply inside vector and keyword search (pre-filtering)."""

    product_types: list[ProductType] | None = None
    providers: list[str] | None = None
    term_months: int | None = None  # product offers this term
    # only products with risk_grade >= this (1=riskiest); products without a grade (deposits,
    # savings, loans) always pass. Empty lists mean "no filter", like None.
    max_risk_grade_riskiest: int | None = None
    # only products that take this many 원: 최고한도 >= it, or no published limit
    min_limit_krw: int | None = Field(None, ge=1)
    include_discontinued: bool = False


class ProductHit(BaseModel):
    product: Product
    score: float
    rank: int  # 1-based rank inside the list that produced it
    note: str | None = None  # set when the hit is a nearest alternative, not a match (why)


class UserVector(BaseModel):
    user_id: str
    persona: str
    persona_hash: str
    vector: list[float]
    embedder: str
    updated_at: datetime


class ChatLog(BaseModel):
    log_id: str
    user_id: str
    kind: Literal["chat", "recommendation", "forecast"] = "chat"
    question: str
    answer: str
    product_ids: list[str] = Field(default_factory=list)
    generator: str = "offline"
    latency_ms: float = 0.0
    created_at: datetime
    meta: dict[str, Any] = Field(default_factory=dict)


class Feedback(BaseModel):
    feedback_id: str
    user_id: str
    target: Literal["product", "answer"]
    target_id: str  # product_id or log_id
    rating: Literal["like", "dislike"]
    comment: str | None = None
    created_at: datetime


class SourceStatus(BaseModel):
    """Per-source outcome of the last collection run; serving reads it for catalogue freshness."""

    source: str
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    disclosure_month: str | None = None
    fetched: int = 0
    valid: int = 0
    quarantined: int = 0
    new: int = 0
    changed: int = 0
    discontinued: int = 0
    active: int = 0


class Store(abc.ABC):
    """One backend holding everything the service stores (never the read-only user DB)."""

    # --- catalogue (products as collected, no vectors) -------------------------------------
    @abc.abstractmethod
    def upsert_catalogue(self, products: Sequence[Product]) -> int:
        """Insert or replace products by ``product_id``; returns how many were written."""

    @abc.abstractmethod
    def catalogue(self, source: str | None = None, include_discontinued: bool = True) -> list[Product]:
        """Every catalogue product (optionally of one source)."""

    # --- searchable products (catalogue + vector) ------------------------------------------
    @abc.abstractmethod
    def upsert_product_vectors(
        self, products: Sequence[Product], vectors: Sequence[Sequence[float]], info: IndexInfo
    ) -> int:
        """Upsert products with their vectors; raises EmbedderMismatchError on another embedder."""

    @abc.abstractmethod
    def product_vector_hashes(self) -> dict[str, str]:
        """``product_id -> content_hash`` of what is indexed, for incremental embedding."""

    @abc.abstractmethod
    def set_products_discontinued(self, product_ids: Sequence[str], on: date) -> int:
        """Mark indexed products discontinued (never deleted)."""

    @abc.abstractmethod
    def get_products(self, product_ids: Sequence[str]) -> list[Product]:
        """Products by id in the order asked (missing ids skipped)."""

    @abc.abstractmethod
    def vector_search(
        self, vector: Sequence[float], k: int, filters: ProductFilters, embedder: str
    ) -> list[ProductHit]:
        """Nearest products by cosine similarity; EmbedderMismatchError if built by another."""

    @abc.abstractmethod
    def keyword_search(self, text: str, k: int, filters: ProductFilters) -> list[ProductHit]:
        """Full-text search over ``rag_text`` and names (Korean n-gram / analyzer)."""

    @abc.abstractmethod
    def product_index_info(self) -> IndexInfo | None:
        """Embedder and dimension of the product vectors, or None if nothing is indexed."""

    @abc.abstractmethod
    def product_vector(self, product_id: str) -> list[float] | None:
        """The stored vector of one product (used to boost products similar to liked ones)."""

    def product_vectors(self, product_ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored vectors of many products at once (missing ids left out).

        Serving loads the whole searchable catalogue's vectors at start-up and reranking reads
        the vectors of a page of hits; backends override this with one query.
        """
        out: dict[str, list[float]] = {}
        for pid in dict.fromkeys(product_ids):
            vector = self.product_vector(pid)
            if vector is not None:
                out[pid] = vector
        return out

    def reset_product_vectors(self) -> None:
        """Forget every product vector and the embedder that built them.

        The only way to switch embedders: upserts refuse a different embedder, so a rebuild
        (``embed_products --rebuild``) resets first and then re-embeds everything.
        """
        raise NotImplementedError

    # --- users -----------------------------------------------------------------------------
    @abc.abstractmethod
    def upsert_user_vectors(self, users: Sequence[UserVector], info: IndexInfo) -> int: ...

    @abc.abstractmethod
    def get_user_vector(self, user_id: str) -> UserVector | None: ...

    @abc.abstractmethod
    def user_persona_hashes(self) -> dict[str, str]:
        """``user_id -> persona_hash`` for incremental user embedding."""

    def reset_user_vectors(self) -> None:
        """Forget every user vector and their embedder (see :meth:`reset_product_vectors`)."""
        raise NotImplementedError

    # --- chat logs and feedback ------------------------------------------------------------
    @abc.abstractmethod
    def add_chat_log(self, log: ChatLog) -> None: ...

    def add_chat_logs(self, logs: Sequence[ChatLog]) -> None:
        """Store several logs in one write (serving buffers logs and flushes them in batches).

        Backends whose every write is a new table version (LanceDB) override this with a single
        write; the default stores them one by one.
        """
        for log in logs:
            self.add_chat_log(log)

    @abc.abstractmethod
    def chat_logs(
        self,
        user_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[ChatLog], int]:
        """Newest first, with the total count matching the filters (for pagination).

        ``start`` is inclusive and ``end`` exclusive; naive datetimes are taken as UTC and
        ``created_at`` comes back timezone-aware UTC.
        """

    @abc.abstractmethod
    def add_feedback(self, feedback: Feedback) -> None: ...

    @abc.abstractmethod
    def feedback(self, user_id: str | None = None) -> list[Feedback]:
        """Newest first."""

    # --- source status -----------------------------------------------------------------------
    @abc.abstractmethod
    def put_source_status(self, status: SourceStatus) -> None: ...

    @abc.abstractmethod
    def source_statuses(self) -> list[SourceStatus]: ...

    # --- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; stores are cheap to reopen."""

    def compact(self) -> None:  # noqa: B027 - optional hook
        """Reorganize storage after bulk writes (LanceDB merges small files); a no-op elsewhere."""

    def iter_catalogue_batches(self, batch_size: int = 512) -> Iterator[list[Product]]:
        """Catalogue in batches (backends may stream instead of materializing)."""
        items = self.catalogue()
        for i in range(0, len(items), batch_size):
            yield items[i : i + batch_size]
