"""Session fixtures for testing the Serve application through real HTTP.

``serve_home``: one small embedded FINRAY_HOME per test session — the real bundled catalogue
collected by the ``collect_products`` job, a sample of it (every product type, every fund risk
grade, deposits with a stated 최고한도) embedded with the real offline e5 model, and seeded demo
users of whom all but the last few are embedded (so the "no stored vector yet" path is exercised).

``serve_url``: the whole application (``serve_apps.app.build_app``) on Ray Serve, started once
per session on a free 127.0.0.1 port, with FINRAY_HOME passed to every replica.

Test modules import both: ``from tests.serve_fixtures import serve_home, serve_url  # noqa: F401``.
"""

from __future__ import annotations

import socket
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from finray.config import Settings, load_settings
from finray.products.model import Product, ProductType
from finray.stores.base import IndexInfo, UserVector
from finray.stores.factory import open_store
from finray.users.db import create_readonly_engine, fetch_users
from finray.users.demo import seed_demo_users
from finray.users.models import make_user_id
from finray.users.persona import persona_hash, persona_text

N_USERS = 40
N_EMBEDDED_USERS = 34  # U0000035..U0000040 have no stored vector
PER_TYPE = {
    ProductType.DEPOSIT: 30,
    ProductType.SAVING: 26,
    ProductType.ANNUITY: 10,
    ProductType.CREDIT_LOAN: 8,
}
FUNDS_PER_GRADE = 6
WITH_LIMIT = 6  # deposits/savings stating a 최고한도 (for the amount filter)


@dataclass(frozen=True)
class ServeHome:
    settings: Settings
    sample: tuple[Product, ...]  # the embedded (searchable) products
    embedded_users: tuple[str, ...]
    unembedded_users: tuple[str, ...]

    @property
    def home(self) -> Path:
        return self.settings.home


def sample_products(catalogue: list[Product]) -> list[Product]:
    """A deterministic spread: every type, every fund risk grade, some stated limits."""
    by_type: dict[ProductType, list[Product]] = defaultdict(list)
    for p in sorted(catalogue, key=lambda p: p.product_id):
        by_type[p.product_type].append(p)
    chosen: dict[str, Product] = {}
    for ptype, n in PER_TYPE.items():
        items = by_type.get(ptype, [])
        step = max(1, len(items) // n)
        for p in items[::step][:n]:
            chosen[p.product_id] = p
    funds_by_grade: dict[int | None, list[Product]] = defaultdict(list)
    for p in by_type.get(ProductType.FUND, []):
        funds_by_grade[p.risk_grade].append(p)
    for grade in sorted(funds_by_grade, key=lambda g: (g is None, g or 0)):
        for p in funds_by_grade[grade][:FUNDS_PER_GRADE]:
            chosen[p.product_id] = p
    limited = [p for t in (ProductType.DEPOSIT, ProductType.SAVING) for p in by_type.get(t, []) if p.max_limit]
    for p in limited[:WITH_LIMIT]:
        chosen[p.product_id] = p
    return sorted(chosen.values(), key=lambda p: p.product_id)


def build_serve_home(home: Path) -> ServeHome:
    """Seed users, collect the bundled catalogue (Ray Data job), embed a sample and the users."""
    from data_jobs import collect_products
    from finray.embeddings.e5 import E5Embedder

    settings = load_settings(FINRAY_HOME=str(home))
    home.mkdir(parents=True, exist_ok=True)
    seed_demo_users(settings.resolved_user_db_url, N_USERS, seed=42)
    collect_products.run(settings, now=datetime(2026, 11, 22, 3))

    store = open_store(settings)
    sample = sample_products(store.catalogue())
    e5 = E5Embedder(num_threads=2)
    info = IndexInfo(embedder=e5.name, dim=e5.dim)
    for i in range(0, len(sample), 16):
        batch = sample[i : i + 16]
        vectors = e5.embed_passages([p.rag_text for p in batch])
        store.upsert_product_vectors(batch, vectors.tolist(), info)

    ids = [make_user_id(n) for n in range(1, N_USERS + 1)]
    engine = create_readonly_engine(settings.resolved_user_db_url)
    users = fetch_users(engine, ids[:N_EMBEDDED_USERS])
    engine.dispose()
    texts = [persona_text(u) for u in users]
    vectors = e5.embed_passages(texts)
    now = datetime.now(UTC)
    store.upsert_user_vectors(
        [
            UserVector(user_id=u.user_id, persona=t, persona_hash=persona_hash(t), vector=v.tolist(),
                       embedder=e5.name, updated_at=now)
            for u, t, v in zip(users, texts, vectors, strict=True)
        ],
        info,
    )
    store.close()
    return ServeHome(settings, tuple(sample), tuple(ids[:N_EMBEDDED_USERS]), tuple(ids[N_EMBEDDED_USERS:]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def serve_home(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> ServeHome:
    return build_serve_home(tmp_path_factory.mktemp("serve") / "home")


@pytest.fixture(scope="session")
def serve_url(serve_home: ServeHome) -> Iterator[str]:
    """The application on Serve (one start per session); its base URL."""
    from ray import serve

    from serve_apps.app import build_app

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app({"FINRAY_HOME": str(serve_home.home)}), name="finray-test", route_prefix="/")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the proxy may lag the application being ready
        try:
            if httpx.get(url + "/", timeout=10).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    try:
        yield url
    finally:
        serve.shutdown()
