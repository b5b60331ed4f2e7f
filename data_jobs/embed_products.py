"""``embed_products``: embed every catalogue product whose content changed, upsert into the store.

Incremental by ``content_hash``: the driver compares the catalogue with what the index holds and
only changed or new products flow through the actor pool; a re-run on unchanged data embeds 0.
Discontinued products stay indexed (marked) so feedback and logs keep resolving them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from data_jobs.embedding import PoolSizes, embed_and_upsert
from data_jobs.runtime import JobResult, ensure_ray, timed
from finray.config import Settings, load_settings
from finray.embeddings.factory import embedder_identity
from finray.products.model import Product
from finray.stores.base import EmbedderMismatchError, IndexInfo
from finray.stores.factory import open_store


class UpsertProducts:
    """Writer stage: one actor per store connection, upserting each embedded batch."""

    def __init__(self, settings: Settings) -> None:
        self.store = open_store(settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        products = [Product.model_validate_json(s) for s in batch["product_json"]]
        name = str(batch["embedder"][0])
        vectors = np.asarray(batch["vector"], dtype=np.float32)
        self.store.upsert_product_vectors(products, vectors.tolist(), IndexInfo(embedder=name, dim=vectors.shape[1]))
        return {"written": np.array([len(products)])}


def changed_products(catalogue: list[Product], indexed: dict[str, str], force: bool = False) -> list[Product]:
    """Products whose content hash differs from the indexed one (all of them with ``force``)."""
    return [p for p in catalogue if force or indexed.get(p.product_id) != p.content_hash]


def sync_discontinued(store: Any, catalogue: list[Product]) -> None:
    """Discontinued marks change without a content change; copy them to the index by date."""
    by_day: dict[Any, list[str]] = {}
    for p in catalogue:
        if p.discontinued_on is not None:
            by_day.setdefault(p.discontinued_on, []).append(p.product_id)
    for day, ids in by_day.items():
        store.set_products_discontinued(ids, day)


def run(settings: Settings | None = None, force: bool = False, batch_size: int = 256, actors: int | None = None) -> JobResult:
    settings = settings or load_settings()
    result = JobResult(job="embed_products")
    with timed(result):
        store = open_store(settings)
        try:
            name, dim = embedder_identity(settings)
            info = store.product_index_info()
            if info and (info.embedder, info.dim) != (name, dim):
                if not force:
                    raise EmbedderMismatchError(
                        f"product index was built with {info.embedder} ({info.dim}-d) but "
                        f"FINRAY_EMBEDDER gives {name} ({dim}-d): re-run with --force to rebuild"
                    )
                store.reset_product_vectors()
            catalogue = store.catalogue()
            todo = changed_products(catalogue, store.product_vector_hashes(), force=force)
            # status flags (discontinued) change without a content change: sync them cheaply
            sync_discontinued(store, catalogue)
        finally:
            store.close()
        result.counts = {"catalogue": len(catalogue), "to_embed": len(todo), "unchanged": len(catalogue) - len(todo)}
        if todo:
            ensure_ray()
            written = embed_and_upsert(
                [{"product_json": p.model_dump_json(), "text": p.rag_text} for p in todo],
                settings, PoolSizes.for_machine(settings, batch_size, actors), UpsertProducts,
            )
            result.counts["embedded"] = written
        else:
            result.counts["embedded"] = 0
        result.records = result.counts["embedded"]
    return result
