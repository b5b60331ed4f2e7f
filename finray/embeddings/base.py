"""One embedder interface for passages (products, personas) and queries.

E5-family models are asymmetric: documents and queries get different prefixes, and Gemini has
``RETRIEVAL_DOCUMENT`` vs ``RETRIEVAL_QUERY`` task types. Callers therefore say which role a text
plays instead of embedding "a text". Vectors come back as L2-normalized float32 rows so cosine
similarity is a dot product on every backend.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np


class EmbedderError(RuntimeError):
    """The embedding backend failed; the message says which backend and why."""


class Embedder(abc.ABC):
    """Embeds batches of texts; ``name`` and ``dim`` are recorded with every stored vector."""

    name: str  # e.g. "e5:multilingual-e5-small-q4"
    dim: int

    @abc.abstractmethod
    def _embed(self, texts: list[str], role: str) -> np.ndarray:
        """Return an (n, dim) array for ``role`` in {"passage", "query"}."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._checked(list(texts), "passage")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._checked(list(texts), "query")

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def _checked(self, texts: list[str], role: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
        if bad:
            raise EmbedderError(f"{self.name}: texts at positions {bad[:5]} are empty or not str")
        out = np.asarray(self._embed(texts, role), dtype=np.float32)
        if out.shape != (len(texts), self.dim):
            raise EmbedderError(
                f"{self.name}: expected shape ({len(texts)}, {self.dim}), got {out.shape}"
            )
        return l2_normalize(out)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(norms == 0, 1.0, norms)).astype(np.float32, copy=False)
