"""Session fixtures for testing the Serve application through real HTTP.

``serve_home``: one small embedded FINRAY_HOME per test session — the real bundled catalogue
collected by the ``collect_products`` job, a sample of it (every product type, every fund risk
grade, deposits with a stated 최고한도) embedded with the real offline e5 model, and seeded demo
users of whom all but the last few are embedded (so the "no stored vector yet" path is exercised).

``serve_home`` also holds a published RiskXpert model version (Naive and Drift trained on the
bundled indicator series by the real training code — about a second), so the forecast routes answer.

``serve_url``: the whole application (``serve_apps.app.build_app``) on Ray Serve, started once
per session on a free 127.0.0.1 port, with :func:`session_env` in every replica: FINRAY_HOME,
dev login on, one admin (:data:`ADMIN_USER`), and rate limits no test reaches (every request comes
from 127.0.0.1 and a few users make dozens of calls).

``auth``: access tokens the way a client gets them — ``POST /api/v1/auth/dev-login`` through
Serve, once per user (:class:`ServeAuth`).

``edge_url``: a second, small application beside it for what needs other settings: the real
``Ingress`` with a tiny per-user rate limit and its own ``Forecaster`` that finds no published
model, sharing the first application's embedder, retriever and advisor through their handles.

Test modules import what they use: ``from tests.serve_fixtures import auth, serve_home, serve_url  # noqa: F401``.
"""

from __future__ import annotations

import socket
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
ADMIN_USER = make_user_id(N_EMBEDDED_USERS)  # U0000034: AUTH_ADMIN_USER_IDS of the test session
FORECAST_MODELS = ("naive", "drift")  # the real training code, fast enough for a test session
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


def publish_forecast_models(home: Path) -> str:
    """Train Naive and Drift on every bundled indicator and publish them as the latest version."""
    from finray.forecasting import TrainConfig, train_indicator
    from finray.forecasting.artifacts import publish_version
    from finray.indicators.series import INDICATORS, load_bundled, usable_history

    config = TrainConfig(models=FORECAST_MODELS, n_origins=12, n_calibration=12)
    trained = [train_indicator(k, usable_history(load_bundled(k)), config) for k in INDICATORS]
    return publish_version(home / "models", trained, created_at=datetime.now(UTC))


def session_env(home: Path) -> dict[str, str]:
    """What every replica of the session's application gets (see the module docstring)."""
    return {
        "FINRAY_HOME": str(home),
        "AUTH_DEV_LOGIN": "true",
        "AUTH_ADMIN_USER_IDS": ADMIN_USER,
        "RATE_LIMIT_IP_PER_MIN": "100000",
        "RATE_LIMIT_IP_BURST": "100000",
        "RATE_LIMIT_USER_PER_MIN": "100000",
        "RATE_LIMIT_USER_BURST": "10000",
    }


SESSION_APP = "finray-test"
EDGE_APP = "finray-edge"
EDGE_PREFIX = "/edge"
#: The edge application's per-user bucket: two requests, then one a minute.
EDGE_USER_BURST = 2
EDGE_USER_PER_MIN = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def serve_base(ray_session: None) -> Iterator[str]:
    """Base URL of a running Serve HTTP proxy, for modules that deploy their own applications:
    started here on a free port (and shut down after the module) unless one already runs."""
    from ray import serve
    from ray.serve.context import _get_global_client

    client = _get_global_client(raise_if_no_controller_running=False)
    started = client is None
    if started:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
    else:
        port = client.http_config.port
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if started:
            serve.shutdown()


@pytest.fixture(scope="session")
def serve_home(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> ServeHome:
    built = build_serve_home(tmp_path_factory.mktemp("serve") / "home")
    publish_forecast_models(built.home)
    return built


def wait_for(url: str, timeout_s: float = 60) -> None:
    """Until ``GET url`` answers 200 (the proxy may lag the application being ready)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")


@pytest.fixture(scope="session")
def serve_url(serve_home: ServeHome) -> Iterator[str]:
    """The application on Serve (one start per session); its base URL."""
    from ray import serve

    from serve_apps.app import build_app

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(session_env(serve_home.home)), name=SESSION_APP, route_prefix="/")
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/")
    try:
        yield url
    finally:
        serve.shutdown()


@dataclass
class ServeAuth:
    """Access tokens through the real dev-login route, one sign-in per user per session."""

    base_url: str
    admin: str = ADMIN_USER
    _tokens: dict[str, str] = field(default_factory=dict)

    def login(self, user_id: str) -> dict[str, Any]:
        """A fresh sign-in: the whole token response (access and refresh token)."""
        r = httpx.post(f"{self.base_url}/api/v1/auth/dev-login", json={"user_id": user_id}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def token(self, user_id: str) -> str:
        if user_id not in self._tokens:
            self._tokens[user_id] = self.login(user_id)["access_token"]
        return self._tokens[user_id]

    def headers(self, user_id: str, **extra: str) -> dict[str, str]:
        """``Authorization: Bearer`` for ``user_id`` (plus ``extra`` headers)."""
        return {"Authorization": f"Bearer {self.token(user_id)}", **extra}

    def admin_headers(self, **extra: str) -> dict[str, str]:
        return self.headers(self.admin, **extra)


@pytest.fixture(scope="session")
def auth(serve_url: str) -> ServeAuth:
    return ServeAuth(serve_url)


def edge_application(home: Path, models_dir: Path) -> Any:
    """The real Ingress with a tiny per-user rate limit and a Forecaster that finds no model.

    One replica each, no CPU reserved (the session app already holds the reservations); the
    advisor path is the session app's own deployments, reached through their handles.
    """
    from ray import serve

    from serve_apps.forecaster import Forecaster
    from serve_apps.ingress import Ingress

    env = {
        **session_env(home),
        "RATE_LIMIT_USER_PER_MIN": str(EDGE_USER_PER_MIN),
        "RATE_LIMIT_USER_BURST": str(EDGE_USER_BURST),
        "FINRAY_MODEL_STORAGE_URI": str(models_dir),
    }

    def small(deployment: Any) -> Any:
        return deployment.options(
            num_replicas=1, autoscaling_config=None, ray_actor_options={"num_cpus": 0, "runtime_env": {"env_vars": env}}
        )

    def shared(name: str) -> Any:
        return serve.get_deployment_handle(name, app_name=SESSION_APP)

    return small(Ingress).bind(
        embedder=shared("QueryEmbedder"), retriever=shared("Retriever"), advisor=shared("Advisor"),
        forecaster=small(Forecaster).bind(),
    )


@pytest.fixture(scope="session")
def edge_url(serve_url: str, serve_home: ServeHome, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the edge application (see the module docstring), started on first use."""
    from ray import serve

    empty_models = tmp_path_factory.mktemp("no-models")
    serve.run(edge_application(serve_home.home, empty_models), name=EDGE_APP, route_prefix=EDGE_PREFIX)
    url = serve_url + EDGE_PREFIX
    wait_for(url + "/")
    try:
        yield url
    finally:
        serve.delete(EDGE_APP)
