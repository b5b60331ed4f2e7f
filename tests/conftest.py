"""Shared fixtures: one local Ray per test session, isolated FINRAY_HOME per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from finray.config import Settings, load_settings

# Keep tests independent of a developer's .env and of variables CI did not mean for us.
for _var in ("FINRAY_STORE", "FINRAY_EMBEDDER", "FINRAY_LLM", "FINRAY_PRODUCT_SOURCE", "FINRAY_USER_DB_URL", "REDIS_URL"):
    os.environ.pop(_var, None)
os.environ.setdefault("FINRAY_PROGRESS", "0")


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """Start Ray once for the whole session (≈8 s); tests that need it depend on this."""
    import ray

    from data_jobs.runtime import ensure_ray

    os.environ.pop("RAY_ADDRESS", None)
    ensure_ray(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture
def make_settings(tmp_path: Path):
    """Settings for an isolated FINRAY_HOME; keyword overrides use the env var names."""

    def _make(**env: str) -> Settings:
        return load_settings(FINRAY_HOME=str(tmp_path / "home"), **env)

    return _make
