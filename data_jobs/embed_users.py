"""``embed_users``: persona text and vector for every user in the read-only user DB.

The user table is read in user_id ranges (partitions): each Ray Data read task streams its own
range with keyset pagination, so no process ever holds the whole table. A user is re-embedded
only when their persona text changed (``persona_hash``); a re-run on unchanged data embeds 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import ray

from data_jobs.embedding import READ_CPUS, PoolSizes, embed_and_upsert_dataset
from data_jobs.runtime import JobResult, ensure_ray, timed
from finray.config import Settings, load_settings
from finray.stores.base import IndexInfo, UserVector
from finray.stores.factory import open_store
from finray.users.db import count_users, create_readonly_engine, iter_user_partition, user_id_partitions
from finray.users.persona import persona_hash, persona_text


class UpsertUsers:
    """Writer stage for user vectors."""

    def __init__(self, settings: Settings) -> None:
        self.store = open_store(settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        vectors = np.asarray(batch["vector"], dtype=np.float32)
        name = str(batch["embedder"][0])
        now = datetime.now(UTC).replace(tzinfo=None)
        users = [
            UserVector(user_id=str(u), persona=str(p), persona_hash=str(h), vector=v.tolist(), embedder=name, updated_at=now)
            for u, p, h, v in zip(batch["user_id"], batch["persona"], batch["persona_hash"], vectors, strict=True)
        ]
        self.store.upsert_user_vectors(users, IndexInfo(embedder=name, dim=vectors.shape[1]))
        return {"written": np.array([len(users)])}


def read_partitions(
    batch: dict[str, np.ndarray], url: str, known: Any, force: bool
) -> Iterator[dict[str, list[str]]]:
    """Stream personas of the given user_id ranges, yielding one block per DB page.

    Only users whose persona text changed since they were last embedded are emitted.
    """
    known_hashes: dict[str, str] = ray.get(known) if isinstance(known, ray.ObjectRef) else known
    engine = create_readonly_engine(url)
    try:
        for lo, hi in zip(batch["lo"], batch["hi"], strict=True):
            for users in iter_user_partition(engine, str(lo), str(hi)):
                out: dict[str, list[str]] = {"user_id": [], "persona": [], "persona_hash": [], "text": []}
                for user in users:
                    text = persona_text(user)
                    h = persona_hash(text)
                    if force or known_hashes.get(user.user_id) != h:
                        for col, val in (("user_id", user.user_id), ("persona", text), ("persona_hash", h), ("text", text)):
                            out[col].append(val)
                if out["user_id"]:
                    yield out
    finally:
        engine.dispose()


def partitions_for(n_users: int) -> int:
    """About 5,000 users per read task, at least 2 so reads overlap with embedding."""
    return max(2, min(1024, -(-n_users // 5000)))


def run(
    settings: Settings | None = None, force: bool = False, partitions: int | None = None,
    batch_size: int = 256, actors: int | None = None,
) -> JobResult:
    settings = settings or load_settings()
    result = JobResult(job="embed_users")
    with timed(result):
        url = settings.resolved_user_db_url
        engine = create_readonly_engine(url)
        try:
            n_users = count_users(engine)
            ranges = user_id_partitions(engine, partitions or partitions_for(n_users))
        finally:
            engine.dispose()
        store = open_store(settings)
        try:
            known = store.user_persona_hashes()
        finally:
            store.close()
        ensure_ray()
        known_ref = ray.put(known)
        ds = ray.data.from_items(
            [{"lo": lo, "hi": hi} for lo, hi in ranges], override_num_blocks=max(1, len(ranges))
        ).map_batches(
            read_partitions, batch_size=1, batch_format="numpy", num_cpus=READ_CPUS,
            fn_kwargs={"url": url, "known": known_ref, "force": force},
        )
        written = embed_and_upsert_dataset(ds, settings, PoolSizes.for_machine(settings, batch_size, actors), UpsertUsers)
        result.counts = {"users": n_users, "partitions": len(ranges), "embedded": written, "unchanged": n_users - written}
        result.records = written
    return result
