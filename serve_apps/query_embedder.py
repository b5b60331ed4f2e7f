"""QueryEmbedder: embeds search queries (batched with ``@serve.batch``) and single passages.

Queries arriving within a few milliseconds of each other are embedded in one model call, so one
replica runs one embedding at a time instead of many competing for its CPU share. Query vectors
are memoized (an LRU with a TTL): the same question text always gives the same vector, and
popular searches repeat. Passage embedding (a user's persona, re-embedded on demand) goes
through the same replica so only one model copy is loaded per replica.
"""

from __future__ import annotations

import asyncio

from ray import serve

from finray.config import load_settings
from finray.embeddings.factory import build_embedder
from finray.memo import TTLCache
from serve_apps.observability import ServeMetrics, adopt_domain_loggers

QUERY_MEMO_TTL_S = 3600.0
QUERY_MEMO_ITEMS = 10_000  # ≈ 15 MB of 384-d vectors


@serve.deployment(
    max_ongoing_requests=64,
    autoscaling_config={
        "min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 16,
        "upscale_delay_s": 10, "downscale_delay_s": 300,
    },
    ray_actor_options={"num_cpus": 0.3},
)
class QueryEmbedder:
    def __init__(self) -> None:
        adopt_domain_loggers()
        self._embedder = build_embedder(load_settings(), num_threads=1)
        self._metrics = ServeMetrics()
        self._memo: TTLCache[str, list[float]] = TTLCache(
            QUERY_MEMO_TTL_S, QUERY_MEMO_ITEMS, observer=self._metrics.cache_observer("query_vector")
        )

    async def identity(self) -> tuple[str, int]:
        return self._embedder.name, self._embedder.dim

    async def embed_query(self, text: str) -> list[float]:
        hit = self._memo.peek(text)
        if hit is not None:
            return hit
        vector = await self._embed_queries(text)
        self._memo.put(text, vector)
        return vector

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002)
    async def _embed_queries(self, texts: list[str]) -> list[list[float]]:
        vectors = await asyncio.to_thread(self._embedder.embed_queries, texts)
        return vectors.tolist()

    async def embed_passage(self, text: str) -> list[float]:
        vectors = await asyncio.to_thread(self._embedder.embed_passages, [text])
        return vectors[0].tolist()
