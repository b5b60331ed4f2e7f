"""QueryEmbedder: batches concurrent query embeddings into one model call (``@serve.batch``).

Queries are short, so the fixed per-call cost dominates; batching 16 requests that arrive within
a few milliseconds costs about what one does. Passage embedding (one user's persona, re-embedded
on demand) goes through the same replica so only one model copy is loaded per replica.
"""

from __future__ import annotations

import asyncio

from ray import serve

from finray.config import load_settings
from finray.embeddings.factory import build_embedder


@serve.deployment(
    max_ongoing_requests=64,
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 16},
    ray_actor_options={"num_cpus": 0.5},
)
class QueryEmbedder:
    def __init__(self) -> None:
        self._embedder = build_embedder(load_settings(), num_threads=1)

    @property
    def name(self) -> str:
        return self._embedder.name

    async def identity(self) -> tuple[str, int]:
        return self._embedder.name, self._embedder.dim

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.004)
    async def embed_query(self, texts: list[str]) -> list[list[float]]:
        vectors = await asyncio.to_thread(self._embedder.embed_queries, texts)
        return vectors.tolist()

    async def embed_passage(self, text: str) -> list[float]:
        vectors = await asyncio.to_thread(self._embedder.embed_passages, [text])
        return vectors[0].tolist()
