"""Gemini embeddings through langchain-google-genai (the production option).

The output dimension is configurable (768 by default: Matryoshka-truncated ``gemini-embedding``
vectors keep most of their quality at 768 and cost a quarter of 3072 in Atlas). Vectors are
re-normalized here because truncated Gemini vectors are not unit length.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from finray.embeddings.base import Embedder, EmbedderError

_TASK = {"passage": "RETRIEVAL_DOCUMENT", "query": "RETRIEVAL_QUERY"}


class GeminiEmbedder(Embedder):
    """``GoogleGenerativeAIEmbeddings`` with task types per role and a fixed output dimension."""

    def __init__(
        self,
        api_key: str,
        model: str = "models/gemini-embedding-001",
        dim: int = 768,
        base_url: str | None = None,
        batch_size: int = 100,
        client: Any = None,
    ) -> None:
        if client is None:
            from langchain_google_genai import GoogleGenerativeAIEmbeddings

            client = GoogleGenerativeAIEmbeddings(
                model=model,
                google_api_key=api_key,
                output_dimensionality=dim,
                base_url=base_url,
                request_options={"timeout": 30},
            )
        self._client = client
        self._batch_size = batch_size
        self.dim = dim
        self.name = f"gemini:{model.removeprefix('models/')}"

    def _embed(self, texts: list[str], role: str) -> np.ndarray:
        try:
            rows = self._client.embed_documents(
                texts,
                batch_size=self._batch_size,
                task_type=_TASK[role],
                output_dimensionality=self.dim,
            )
        except Exception as exc:  # the client wraps HTTP and API errors differently per version
            raise EmbedderError(f"{self.name}: embedding request failed: {exc}") from exc
        return np.asarray(rows, dtype=np.float32)
