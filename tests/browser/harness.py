"""What the browser tests run against: a real FINRAY_HOME, the Serve app, headless Chromium.

* :func:`build_web_home` — the serve tests' small embedded home (real bundled catalogue, a
  sample embedded with the real offline e5 model, seeded demo users; ``tests/serve_fixtures.py``)
  plus a RiskXpert model version trained on the bundled indicator series (Naive and Drift: the
  real training and backtest code, fast enough for a test session) and published into it.
* :func:`web_application` — the Serve application the browser talks to: the real deployments
  and ingress (routers, auth, rate limits), one replica each and no CPU reserved (the session
  may already run the serve tests' app on the same 2-CPU local Ray).
* :func:`chromium_context` — Debian's ``/usr/bin/chromium`` driven by Playwright (never
  ``playwright install``), headless, with a fresh profile directory per launch.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("FINRAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ADMIN_USER = "U0000001"
CUSTOMER = "U0000002"
KAKAO_USER = "U0000003"  # linked to the fake Kakao's default account (tests/fakes/kakao.py)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def browser_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or ``None`` when they can."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium; or set FINRAY_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python Playwright is not installed (pip install -e '.[dev]')"
    return None


@contextmanager
def playwright_driver() -> Iterator[Any]:
    """Playwright's driver (one per test module); browsers are launched from it per test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@contextmanager
def chromium_context(pw: Any, **context_options: Any) -> Iterator[Any]:
    """Headless Chromium with a fresh profile (``--user-data-dir``) of its own → its only context.

    A new profile per test: no cookies, storage or cache carried over between tests.
    """
    profile = tempfile.mkdtemp(prefix="finray-chromium-")
    try:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **context_options,
        )
        try:
            yield context
        finally:
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


# --- data --------------------------------------------------------------------------------------
def build_web_home(home: Path) -> Any:
    """Its own home (the browser tests add feedback and logs that other tests must not see)."""
    from tests.serve_fixtures import build_serve_home, publish_forecast_models

    built = build_serve_home(home)
    publish_forecast_models(home)
    return built


def jwt_secret() -> str:
    return base64.b64encode(os.urandom(48)).decode()


@dataclass(frozen=True)
class KakaoSetup:
    auth_host: str
    client_id: str
    client_secret: str
    redirect_uri: str
    links: str  # AUTH_KAKAO_LINKS


def replica_env(home: Path, secret: str, kakao: KakaoSetup | None = None) -> dict[str, str]:
    """Environment of every replica: the test home, dev login, one admin, roomy rate limits."""
    env = {
        "FINRAY_HOME": str(home),
        "AUTH_DEV_LOGIN": "true",
        "AUTH_ADMIN_USER_IDS": ADMIN_USER,
        "AUTH_JWT_SECRET": secret,
        "RATE_LIMIT_IP_PER_MIN": "6000",
        "RATE_LIMIT_IP_BURST": "1000",
        "RATE_LIMIT_USER_PER_MIN": "6000",
        "RATE_LIMIT_USER_BURST": "1000",
        "FINRAY_CACHE_TTL_S": "600",
    }
    if kakao is not None:
        env.update({
            "KAKAO_CLIENT_ID": kakao.client_id, "KAKAO_CLIENT_SECRET": kakao.client_secret,
            "KAKAO_REDIRECT_URI": kakao.redirect_uri, "KAKAO_AUTH_HOST": kakao.auth_host,
            "KAKAO_API_HOST": kakao.auth_host, "AUTH_KAKAO_LINKS": kakao.links,
        })
    return env


# --- the application -----------------------------------------------------------------------------
def ingress_is_wired() -> bool:
    """Does the real ingress mount the auth, forecast and web routers?"""
    from serve_apps.routes import ROUTERS, auth, forecast, web

    mounted = {id(m.router) for m in ROUTERS}
    return all(id(r.router) in mounted for r in (auth, forecast, web))


def web_application(env: dict[str, str]) -> Any:
    """The whole app with ``env`` in each replica: every deployment once, no CPU reserved.

    The real deployment classes — the real ``Ingress`` with its routers, auth and rate limits —
    composed like ``serve_apps/app.py``; only replica counts and CPU reservations differ, so the
    app fits beside the serve tests' app on a 2-CPU local Ray.
    """
    from serve_apps.advisor import Advisor
    from serve_apps.forecaster import Forecaster
    from serve_apps.ingress import Ingress
    from serve_apps.query_embedder import QueryEmbedder
    from serve_apps.reranker import Reranker
    from serve_apps.retriever import Retriever

    if not ingress_is_wired():
        raise RuntimeError("serve_apps/routes/__init__.py must mount the auth, forecast and web routers")

    def small(deployment: Any) -> Any:
        return deployment.options(
            num_replicas=1, autoscaling_config=None,
            ray_actor_options={"num_cpus": 0, "runtime_env": {"env_vars": dict(env)}},
        )

    embedder = small(QueryEmbedder).bind()
    retriever = small(Retriever).bind()
    reranker = small(Reranker).bind(retriever)
    advisor = small(Advisor).bind(embedder, retriever, reranker)
    forecaster = small(Forecaster).bind()
    return small(Ingress).bind(embedder=embedder, retriever=retriever, advisor=advisor, forecaster=forecaster)


#: Where the browser tests leave their screenshots.
SHOTS = ARTIFACTS / "web"


@contextmanager
def watched_page(pw: Any, timeout_ms: int, **context_options: Any) -> Iterator[Any]:
    """A page in a fresh Chromium profile that fails the test on uncaught JavaScript errors or
    Content-Security-Policy violations seen while it was open."""
    errors: list[str] = []
    with chromium_context(pw, **context_options) as context:
        context.set_default_timeout(timeout_ms)
        p = context.pages[0] if context.pages else context.new_page()
        p.on("pageerror", lambda e: errors.append(str(e)))
        p.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        yield p
    assert not errors, f"uncaught JavaScript errors or CSP violations: {errors}"


def shot(page: Any, name: str) -> None:
    """Full-page screenshot ``SHOTS/<name>.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky top bar lands mid-page in a full-page shot
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
