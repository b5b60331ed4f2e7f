"""Kakao sign-in and the page's error messages in headless Chromium — no Ray needed.

Kakao is the loopback fake (``tests/fakes/kakao.py``, the real OAuth wire protocol: a 302 back
with ``code`` and ``state``). The server is a plain uvicorn on a free port running the real auth
router, security layer (state cookie, rate limits) and web router at ``/`` — the Kakao state
cookie is scoped to ``/api/v1/auth/kakao``, so the flow needs the app at the root. The forecast
router is mounted without a Forecaster deployment, which makes it answer a real 503.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from finray.config import load_settings
from finray.ratelimit import InProcessRateLimiter
from finray.users.demo import seed_demo_users
from serve_apps.errors import install_error_handlers
from serve_apps.routes import API_V1, auth, forecast, web
from serve_apps.security import install_security, require_user
from tests.browser.harness import (
    KAKAO_USER,
    browser_missing_reason,
    jwt_secret,
    playwright_driver,
    shot,
    watched_page,
)
from tests.fakes.kakao import CLIENT_ID, CLIENT_SECRET, DEFAULT_USER, FakeKakao
from tests.serve_fixtures import free_port

_MISSING = browser_missing_reason()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")
IP_BURST = 40


@dataclass
class SignInServer:
    url: str
    app: FastAPI
    kakao: FakeKakao


def build_app(home: Path, port: int, kakao_url: str) -> FastAPI:
    settings = load_settings(
        FINRAY_HOME=str(home), AUTH_DEV_LOGIN="true", AUTH_JWT_SECRET=jwt_secret(),
        KAKAO_CLIENT_ID=CLIENT_ID, KAKAO_CLIENT_SECRET=CLIENT_SECRET,
        KAKAO_REDIRECT_URI=f"http://127.0.0.1:{port}/app/kakao/callback",
        KAKAO_AUTH_HOST=kakao_url, KAKAO_API_HOST=kakao_url,
        AUTH_KAKAO_LINKS=f"{DEFAULT_USER['id']}={KAKAO_USER}",
        RATE_LIMIT_IP_PER_MIN="1", RATE_LIMIT_IP_BURST=str(IP_BURST),
    )
    seed_demo_users(settings.resolved_user_db_url, 10, seed=7)
    app = FastAPI()
    app.state.settings = settings
    install_error_handlers(app)
    install_security(app, settings, rate_limiter=InProcessRateLimiter(), redact_logs=False)
    app.include_router(auth.router)
    app.include_router(web.router)
    app.include_router(forecast.router, prefix=API_V1, dependencies=[Depends(require_user)])
    return app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInServer]:
    import uvicorn

    port = free_port()
    with FakeKakao([f"http://127.0.0.1:{port}/app/kakao/callback"]) as kakao:
        app = build_app(tmp_path_factory.mktemp("signin") / "home", port, kakao.url)
        uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not uv.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert uv.started, "uvicorn did not start"
        try:
            yield SignInServer(f"http://127.0.0.1:{port}", app, kakao)
        finally:
            uv.should_exit = True
            thread.join(timeout=10)


@pytest.fixture
def fresh(server: SignInServer) -> SignInServer:
    server.kakao.reset()
    server.app.state.rate_limiter = InProcessRateLimiter()  # every test starts with full buckets
    return server


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with playwright_driver() as pw:
        yield pw


@pytest.fixture
def page(driver: Any) -> Iterator[Any]:
    with watched_page(driver, 20_000, viewport={"width": 1280, "height": 860}, locale="ko-KR") as p:
        yield p


def test_kakao_login_round_trip(page: Any, fresh: SignInServer) -> None:
    page.goto(f"{fresh.url}/app/")
    page.click("#kakao-login")  # → /api/v1/auth/kakao/login → Kakao (fake) → /app/kakao/callback
    page.wait_for_function("id => document.getElementById('who').textContent.startsWith(id)", arg=KAKAO_USER)
    assert page.evaluate("location.pathname + location.search + location.hash") == "/app/#/advisor", (
        "the one-time code must leave the address bar"
    )
    stored = page.evaluate("JSON.parse(localStorage.getItem('finray.session.v1'))")
    assert stored["user_id"] == KAKAO_USER and stored["refresh_token"].startswith("frt_")
    me = httpx.get(f"{fresh.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {stored['access_token']}"})
    assert me.status_code == 200 and me.json()["user_id"] == KAKAO_USER
    # this server has no recommendation routes: the advisor says so instead of a blank page
    box = page.wait_for_selector("#rec-cards .error-box")
    assert box.get_attribute("data-status") == "404" and "찾을 수 없습니다" in box.inner_text()
    shot(page, "10-kakao-signed-in")


def test_kakao_consent_denied_is_explained(page: Any, fresh: SignInServer) -> None:
    fresh.kakao.deny_consent = True
    page.goto(f"{fresh.url}/app/")
    page.click("#kakao-login")
    notice = page.wait_for_selector("#login-notice")
    assert notice.inner_text().startswith("카카오 로그인 동의가 취소되었습니다")
    assert page.evaluate("localStorage.getItem('finray.session.v1')") is None
    assert "code=" not in page.url and "error=" not in page.url
    shot(page, "11-kakao-denied")


def test_unlinked_kakao_account_is_explained(page: Any, fresh: SignInServer) -> None:
    fresh.kakao.next_user = {"id": 9_999_999_001, "nickname": "김연결", "email": "nolink@example.com"}
    page.goto(f"{fresh.url}/app/")
    page.click("#kakao-login")
    notice = page.wait_for_selector("#login-notice")
    assert "finray 고객 정보와 연결되어 있지 않습니다" in notice.inner_text()


def test_server_error_is_a_clear_message(page: Any, fresh: SignInServer) -> None:
    page.goto(f"{fresh.url}/app/")
    page.click(".dev-user >> nth=0")
    page.wait_for_selector("#nav:not([hidden])")
    page.goto(f"{fresh.url}/app/#/riskxpert")
    box = page.wait_for_selector("#fx-error .error-box")
    assert box.get_attribute("data-status") == "503"
    text = box.inner_text()
    assert "서비스가 아직 준비되지 않았거나" in text and "forecaster" in text  # Korean first, then the server's detail
    assert page.locator("#fx-error .error-box button").inner_text() == "다시 시도"
    shot(page, "12-error-503")


def test_rate_limit_shows_when_to_retry(page: Any, fresh: SignInServer) -> None:
    for _ in range(IP_BURST + 5):  # the login routes share the caller's IP bucket
        r = httpx.get(f"{fresh.url}/api/v1/auth/dev-users")
        if r.status_code == 429:
            break
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    page.goto(f"{fresh.url}/app/")
    box = page.wait_for_selector("#dev-login .error-box")
    assert box.get_attribute("data-status") == "429"
    assert box.inner_text().startswith("요청이 너무 많습니다.") and "초 후에 다시 시도해 주세요" in box.inner_text()
    shot(page, "13-error-429")
