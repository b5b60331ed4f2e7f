"""Pick the embedder the settings ask for."""

from __future__ import annotations

from finray.config import Settings
from finray.embeddings.base import Embedder


def build_embedder(settings: Settings, num_threads: int | None = None) -> Embedder:
    """The configured embedder; ``num_threads`` only applies to the local e5 engine."""
    if settings.embedder == "gemini":
        from finray.embeddings.gemini import GeminiEmbedder

        assert settings.google_api_key  # guaranteed by Settings validation
        return GeminiEmbedder(
            api_key=settings.google_api_key,
            model=settings.gemini_embed_model,
            dim=settings.gemini_embed_dim,
            base_url=settings.gemini_base_url,
        )
    from finray.embeddings.e5 import E5Embedder

    return E5Embedder(num_threads=num_threads)


def embedder_identity(settings: Settings) -> tuple[str, int]:
    """(name, dim) of the configured embedder without loading it (for index checks)."""
    if settings.embedder == "gemini":
        return f"gemini:{settings.gemini_embed_model.removeprefix('models/')}", settings.gemini_embed_dim
    from finray.embeddings.e5 import E5_DIM, E5_NAME

    return E5_NAME, E5_DIM
