"""The Ray Data stages both embedding jobs share: an embedder actor pool and a store writer.

* :class:`EmbedBatch` loads the model once per actor (``__init__``) and embeds whole batches.
* :class:`UpsertBatch` upserts what was embedded. It runs as a pool of one actor for LanceDB,
  whose table commits are optimistic (several concurrent writers would conflict and retry);
  Atlas takes concurrent bulk writes, so ``writers`` may be raised there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
from ray.data import ActorPoolStrategy

from finray.config import Settings
from finray.embeddings.factory import build_embedder
from finray.stores.factory import open_store


#: Logical CPUs kept free for the stages feeding the embedder pool (user DB reads, personas).
READ_CPUS = 0.5


@dataclass(frozen=True)
class PoolSizes:
    """How many embedder actors, threads per actor and rows per batch."""

    actors: int
    threads: int  # intra-op threads of each embedder actor
    batch_size: int
    writers: int = 1
    actor_cpus: float | None = None  # logical CPUs each actor reserves (default: ``threads``)

    @classmethod
    def for_machine(cls, settings: Settings, batch_size: int = 256, actors: int | None = None) -> PoolSizes:
        cpus = os.cpu_count() or 2
        if settings.embedder == "gemini":  # network bound: more actors, no local threads
            return cls(actors=actors or 4, threads=1, batch_size=min(batch_size, 100))
        n = actors or 1
        threads = max(1, cpus // n)
        # The actors would otherwise reserve every CPU and starve the upstream read tasks
        # (a deadlock on a 2-core machine): leave READ_CPUS for reading, the threads still use
        # all cores while reads are idle.
        actor_cpus = max(0.5, (cpus - READ_CPUS) / n)
        return cls(actors=n, threads=threads, batch_size=batch_size, actor_cpus=actor_cpus)


class EmbedBatch:
    """Ray Data callable class: ``text`` column in, ``vector`` column (float32) out."""

    def __init__(self, settings: Settings, threads: int, role: str = "passage") -> None:
        self.embedder = build_embedder(settings, num_threads=threads)
        self.role = role

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        texts = [str(t) for t in batch["text"]]
        embed = self.embedder.embed_queries if self.role == "query" else self.embedder.embed_passages
        vectors = embed(texts)
        out = {k: v for k, v in batch.items() if k != "text"}
        out["vector"] = vectors.astype(np.float32)
        out["embedder"] = np.array([self.embedder.name] * len(texts))
        return out


def embed_and_upsert(rows: list[dict[str, Any]], settings: Settings, sizes: PoolSizes, writer: type) -> int:
    """rows (with ``text``) → embedder actor pool → writer actor(s); returns rows written."""
    blocks = max(1, min(len(rows) // sizes.batch_size, 64))
    return embed_and_upsert_dataset(ray.data.from_items(rows, override_num_blocks=blocks), settings, sizes, writer)


def embed_and_upsert_dataset(ds: ray.data.Dataset, settings: Settings, sizes: PoolSizes, writer: type) -> int:
    """A dataset with a ``text`` column → embedder actor pool → writer actor(s); rows written."""
    ds = (
        ds.map_batches(
            EmbedBatch, fn_constructor_kwargs={"settings": settings, "threads": sizes.threads},
            batch_size=sizes.batch_size, compute=ActorPoolStrategy(size=sizes.actors),
            num_cpus=sizes.actor_cpus or sizes.threads, batch_format="numpy",
        )
        .map_batches(
            writer, fn_constructor_kwargs={"settings": settings}, batch_size=sizes.batch_size, compute=ActorPoolStrategy(size=sizes.writers),
            num_cpus=0, batch_format="numpy",
        )
    )
    written = int(sum(int(r["written"]) for r in ds.iter_rows()))
    if written:  # every writer batch was a table version: merge them once the job is done
        store = open_store(settings)
        try:
            store.compact()
        finally:
            store.close()
    return written
