"""Product ⇄ flat row/document mapping shared by the LanceDB and MongoDB backends.

Both backends keep the *whole* product losslessly (a JSON payload) next to a handful of flat
columns that exist only so the database can filter and rank without parsing that payload.
Deriving the flat columns in one place is what keeps filter semantics identical on both
backends: the contract suite runs the same filter against each, so a column computed
differently in one of them would show up there as a different hit list.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from finray.products.model import Product
from finray.stores.base import EmbedderMismatchError, IndexInfo, ProductHit, UserVector

# Products without an investment risk grade (deposits, savings, loans: principal protected or
# not an investment) rank as *safer* than grade 6 (매우낮은위험), so a "risk_grade >= N" filter
# keeps them for every N instead of silently dropping all deposits. Storing this derived value
# avoids NULL handling in filters, which Atlas $vectorSearch pre-filters do not document.
NO_RISK_LEVEL = 7
# Products without a published 최고한도 take any amount; stored as this (not NULL) for the same
# reason, so "max_limit >= amount" keeps them on every backend.
NO_MAX_LIMIT = 2**62

# Fields the model computes; they are re-derived on load, so they never go into the payload.
_COMPUTED = {"best_base_rate", "best_max_rate", "terms", "content_hash", "rag_text"}


def product_payload(product: Product) -> dict[str, Any]:
    """JSON-safe dict that rebuilds ``product`` exactly (computed fields are left out)."""
    return product.model_dump(mode="json", exclude=_COMPUTED)


def product_from_payload(payload: dict[str, Any] | str) -> Product:
    """Inverse of :func:`product_payload` (accepts the dict or its JSON text).

    JSON text is parsed through a bounded memo: serving reads the same few thousand product
    documents on every search, and validating a ~2 kB document costs far more than the search
    itself. Products are frozen, so handing out the same instance twice is safe.
    """
    if isinstance(payload, str):
        return _product_from_json(payload)
    return Product.model_validate(payload)


@functools.lru_cache(maxsize=8192)
def _product_from_json(text: str) -> Product:
    return Product.model_validate(json.loads(text))


def product_json(product: Product) -> str:
    """The payload as compact UTF-8 JSON text (LanceDB keeps it in one string column)."""
    return json.dumps(product_payload(product), ensure_ascii=False, separators=(",", ":"))


def risk_level(product: Product) -> int:
    """``risk_grade`` with "no grade" mapped to :data:`NO_RISK_LEVEL` (see above)."""
    return product.risk_grade if product.risk_grade is not None else NO_RISK_LEVEL


def catalogue_fields(product: Product) -> dict[str, Any]:
    """Flat fields of a catalogue row: enough to filter by source/activity and detect changes."""
    return {
        "product_id": product.product_id,
        "product_type": product.product_type.value,
        "source": product.source,
        "provider": product.provider,
        "is_active": product.is_active,
        "content_hash": product.content_hash,
    }


def search_fields(product: Product) -> dict[str, Any]:
    """Flat fields of a searchable product: catalogue fields plus every filter and text field."""
    return {
        **catalogue_fields(product),
        "name": product.name,
        "rag_text": product.rag_text,
        "risk_grade": product.risk_grade,
        "risk_level": risk_level(product),
        "terms": list(product.terms),
        "best_max_rate": product.best_max_rate,
        "max_limit": product.max_limit if product.max_limit is not None else NO_MAX_LIMIT,
    }


def mark_discontinued(product: Product, on: date) -> Product:
    """The same product with ``discontinued_on`` set (the model is frozen, so a copy)."""
    return product.model_copy(update={"discontinued_on": on})


def to_utc(dt: datetime) -> datetime:
    """Timezone-aware UTC; naive datetimes are taken to be UTC already.

    Both backends store instants in UTC (BSON dates have no zone; Lance columns are UTC), so
    callers always get aware UTC datetimes back whatever they passed in.
    """
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def check_vectors(vectors: Sequence[Sequence[float]], count: int, dim: int) -> None:
    """Reject a batch whose size or vector lengths do not match before anything is written."""
    if len(vectors) != count:
        raise ValueError(f"got {count} products but {len(vectors)} vectors")
    bad = [i for i, v in enumerate(vectors) if len(v) != dim]
    if bad:
        raise ValueError(f"vectors at positions {bad[:5]} do not have the index dimension {dim}")


def check_index(built: IndexInfo | None, embedder: str, dim: int, what: str, job: str) -> None:
    """Raise if the index was built by another embedder or dimension; one line says how to fix it.

    Vectors of different models (or sizes) live in unrelated spaces: mixing them would return
    confident nonsense, so both writes and searches are refused instead.
    """
    if built is not None and (built.embedder, built.dim) != (embedder, dim):
        raise EmbedderMismatchError(
            f"{what} built with {built.embedder} ({built.dim}-d); this request used {embedder} "
            f"({dim}-d) — re-run {job}"
        )


def check_users(users: Sequence[UserVector], info: IndexInfo) -> None:
    """Every user vector in a batch must come from the embedder the batch claims."""
    for u in users:
        if u.embedder != info.embedder or len(u.vector) != info.dim:
            raise ValueError(
                f"user {u.user_id}: vector is {u.embedder} ({len(u.vector)}-d), "
                f"batch says {info.embedder} ({info.dim}-d)"
            )


def hits(found: Iterable[tuple[dict[str, Any] | str, float]]) -> list[ProductHit]:
    """``(product payload, score)`` pairs, best first, as ranked hits (rank is 1-based)."""
    return [
        ProductHit(product=product_from_payload(payload), score=score, rank=rank)
        for rank, (payload, score) in enumerate(found, start=1)
    ]
