"""The auth router and security dependencies on a small FastAPI app (no Ray), end to end.

Kakao is the loopback fake (tests/fakes/kakao.py); Slack is the loopback webhook receiver.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from finray.auth import AuthService, Principal
from finray.config import load_settings
from finray.ratelimit import InProcessRateLimiter, RedisRateLimiter
from finray.users.demo import seed_demo_users
from serve_apps.routes.auth import STATE_COOKIE
from serve_apps.routes.auth import router as auth_router
from serve_apps.security import (
    Page,
    ensure_self,
    install_security,
    pagination,
    rate_limit,
    require_admin,
    require_self,
    require_user,
)
from tests.fakes.kakao import CLIENT_ID, CLIENT_SECRET, DEFAULT_USER, FakeKakao
from tests.fakes.slack import FakeSlack
from tests.security_support import FakeClock, b64url, cleanup_redis, redis_url, unique_prefix

CALLBACK = "http://testserver/api/v1/auth/kakao/callback"
LINKED_USER = "U0000003"
ADMIN = "U0000009"


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def user_db(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('users') / 'users.sqlite'}"
    seed_demo_users(url, 10, seed=1)
    return url


@pytest.fixture(scope="module")
def kakao_server():
    with FakeKakao([CALLBACK, CALLBACK + "-other"]) as fake:
        yield fake


@pytest.fixture
def kakao(kakao_server):
    kakao_server.reset()
    return kakao_server


@pytest.fixture(scope="module")
def slack_server():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def slack(slack_server):
    slack_server.messages.clear()
    return slack_server


class ChatBody(BaseModel):
    user_id: str
    question: str


def build_app(settings, clock: FakeClock, *, rate_limiter=None, alerter=None) -> FastAPI:
    """A stand-in for the ingress: the auth router plus protected dummy routes."""
    app = FastAPI()
    auth = AuthService.from_settings(settings, clock=clock)
    install_security(
        app, settings, auth=auth, rate_limiter=rate_limiter or InProcessRateLimiter(clock=clock),
        alerter=alerter, redact_logs=False,
    )
    app.include_router(auth_router)

    @app.get("/")
    def status() -> dict:
        return {"status": "ok"}

    @app.get("/api/v1/users/{user_id}/profile")
    def profile(user_id: str, principal: Principal = Depends(require_self)) -> dict:
        return {"user_id": user_id, "caller": principal.user_id}

    @app.post("/api/v1/chat")
    def chat(body: ChatBody, principal: Principal = Depends(rate_limit(cost=1))) -> dict:
        ensure_self(principal, body.user_id)
        return {"answer": "ok", "user_id": body.user_id}

    @app.get("/api/v1/admin/stats")
    def stats(_: Principal = Depends(require_admin)) -> dict:
        return {"ok": True}

    @app.get("/api/v1/logs")
    def logs(page: Page = Depends(pagination), principal: Principal = Depends(require_user)) -> dict:
        return {"offset": page.offset, "limit": page.limit, "user_id": principal.user_id}

    @app.get("/api/v1/boom")
    def boom(principal: Principal = Depends(require_user)) -> dict:
        raise RuntimeError(f"db failed for {principal.user_id} phone 010-2222-3333")

    @app.post("/api/v1/echo")
    async def echo(body: dict) -> dict:
        return {"keys": len(body)}

    return app


@pytest.fixture
def env(tmp_path: Path, user_db: str, kakao) -> dict[str, str]:
    return {
        "FINRAY_HOME": str(tmp_path / "home"),
        "FINRAY_USER_DB_URL": user_db,
        "AUTH_DEV_LOGIN": "true",
        "AUTH_ADMIN_USER_IDS": ADMIN,
        "AUTH_KAKAO_LINKS": f"{DEFAULT_USER['id']}={LINKED_USER}",
        "KAKAO_CLIENT_ID": CLIENT_ID,
        "KAKAO_CLIENT_SECRET": CLIENT_SECRET,
        "KAKAO_REDIRECT_URI": CALLBACK,
        "KAKAO_AUTH_HOST": kakao.url,
        "KAKAO_API_HOST": kakao.url,
        "RATE_LIMIT_USER_BURST": "1000",
        "RATE_LIMIT_IP_BURST": "1000",
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(env, clock):
    made: list[TestClient] = []

    def _make(*, rate_limiter=None, alerter=None, raise_server_exceptions=True, **overrides: str) -> TestClient:
        settings = load_settings(**{**env, **overrides})
        app = build_app(settings, clock, rate_limiter=rate_limiter, alerter=alerter)
        client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        made.append(client)
        return client

    yield _make
    for c in made:
        c.app.state.auth.close()
        c.app.state.alerter.close(timeout_s=0.5)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def tokens_for(client: TestClient, user_id: str) -> dict:
    pair = client.app.state.auth.tokens.issue(user_id)
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def kakao_login(client: TestClient) -> httpx.Response:
    """Browser: our login → Kakao authorize (fake) → back to our callback with code+state."""
    start = client.get("/api/v1/auth/kakao/login", follow_redirects=False)
    assert start.status_code == 307, start.text
    at_kakao = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_kakao.status_code == 302, at_kakao.text
    return client.get(at_kakao.headers["location"])


def assert_error(resp: httpx.Response, status: int, error: str, reason: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == error and body["detail"]
    if reason:
        assert body.get("reason") == reason, body
    return body


# --- Kakao login end to end ---------------------------------------------------------------------


def test_kakao_login_redirects_with_a_fresh_state_and_cookie(client, kakao):
    r = client.get("/api/v1/auth/kakao/login", follow_redirects=False)
    assert r.status_code == 307
    loc = urlsplit(r.headers["location"])
    q = {k: v[0] for k, v in parse_qs(loc.query).items()}
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == f"{kakao.url}/oauth/authorize"
    assert q["client_id"] == CLIENT_ID and q["redirect_uri"] == CALLBACK and q["response_type"] == "code"
    assert len(q["state"]) >= 43
    cookie = r.headers["set-cookie"]
    assert f"{STATE_COOKIE}={q['state']}" in cookie
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/api/v1/auth/kakao" in cookie
    again = client.get("/api/v1/auth/kakao/login", follow_redirects=False)
    assert parse_qs(urlsplit(again.headers["location"]).query)["state"][0] != q["state"]


def test_full_kakao_flow_issues_working_tokens_and_stores_the_link(client):
    r = kakao_login(client)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["user_id"] == LINKED_USER and body["token_type"] == "Bearer"
    assert body["expires_in"] == 900 and body["refresh_expires_in"] == 14 * 86400
    me = client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["user_id"] == LINKED_USER and me.json()["roles"] == ["user"]
    assert client.app.state.auth.store.get_link("kakao", str(DEFAULT_USER["id"])) == LINKED_USER
    assert "set-cookie" in r.headers and f'{STATE_COOKIE}=""' in r.headers["set-cookie"]  # cleared


def test_state_works_only_once(client):
    start = client.get("/api/v1/auth/kakao/login", follow_redirects=False)
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    assert client.get(callback).status_code == 200
    q = parse_qs(urlsplit(callback).query)
    client.cookies.set(STATE_COOKIE, q["state"][0], domain="testserver.local", path="/api/v1/auth/kakao")
    replay = client.get(callback)
    assert "already used" in assert_error(replay, 400, "login_failed", "invalid_state")["detail"]


def test_state_must_match_the_browser_cookie(client):
    start = client.get("/api/v1/auth/kakao/login", follow_redirects=False)
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    victim = TestClient(client.app)  # a different browser: no state cookie
    body = assert_error(victim.get(callback), 400, "login_failed", "invalid_state")
    assert "this browser" in body["detail"]
    assert client.get(callback).status_code == 200  # the victim's attempt did not burn the state


def test_missing_or_unknown_state_is_refused(client):
    assert_error(client.get("/api/v1/auth/kakao/callback?code=abc"), 400, "login_failed", "invalid_state")
    client.cookies.set(STATE_COOKIE, "forged", domain="testserver.local", path="/api/v1/auth/kakao")
    r = client.get("/api/v1/auth/kakao/callback?code=abc&state=forged")
    assert "unknown" in assert_error(r, 400, "login_failed", "invalid_state")["detail"]


def test_expired_state_is_refused(client, clock):
    start = client.get("/api/v1/auth/kakao/login", follow_redirects=False)
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    clock.advance(601)
    assert "expired" in assert_error(client.get(callback), 400, "login_failed", "invalid_state")["detail"]


def test_bad_code_is_400(client):
    start = client.get("/api/v1/auth/kakao/login", follow_redirects=False)
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    bad = callback.replace("code=", "code=tampered")
    assert_error(client.get(bad), 400, "login_failed", "invalid_code")


def test_expired_code_is_400(client, kakao):
    start = client.get("/api/v1/auth/kakao/login", follow_redirects=False)
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    kakao.code_ttl_s = 0.0
    body = assert_error(client.get(callback), 400, "login_failed", "invalid_code")
    assert "KOE320" in body["detail"]


def test_wrong_redirect_uri_is_500_and_alerts_ops(make_client, kakao, slack):
    client = make_client(SLACK_WEBHOOK_URL=slack.webhook_url)
    start = client.get("/api/v1/auth/kakao/login", follow_redirects=False)
    q = parse_qs(urlsplit(start.headers["location"]).query)
    # Kakao issued the code for another registered redirect URI than the one we exchange with.
    other = httpx.get(
        f"{kakao.url}/oauth/authorize",
        params={"client_id": CLIENT_ID, "redirect_uri": CALLBACK + "-other", "response_type": "code",
                "state": q["state"][0]},
        follow_redirects=False,
    )
    code = parse_qs(urlsplit(other.headers["location"]).query)["code"][0]
    r = client.get("/api/v1/auth/kakao/callback", params={"code": code, "state": q["state"][0]})
    body = assert_error(r, 500, "auth_unavailable", "redirect_uri_mismatch")
    assert "KAKAO_REDIRECT_URI" in body["detail"]
    client.app.state.alerter.flush(5)
    assert any("auth misconfigured" in m["text"] for m in slack.messages)


def test_user_info_failure_is_502(client, kakao):
    kakao.fail_user_info = True
    assert_error(kakao_login(client), 502, "bad_gateway", "user_info_failed")


def test_denied_consent_is_400(client, kakao):
    kakao.deny_consent = True
    assert_error(kakao_login(client), 400, "login_failed", "access_denied")


def test_unlinked_kakao_account_is_403_until_an_admin_links_it(client, kakao):
    kakao.next_user = {"id": 777000111, "nickname": "김철수"}
    body = assert_error(kakao_login(client), 403, "forbidden", "account_not_linked")
    assert "777000111" in body["detail"]
    admin = tokens_for(client, ADMIN)["access_token"]
    user = tokens_for(client, "U0000001")["access_token"]
    link = {"kakao_id": 777000111, "user_id": "U0000005"}
    assert_error(client.post("/api/v1/auth/links", json=link, headers=bearer(user)), 403, "forbidden", "admin_required")
    assert_error(client.post("/api/v1/auth/links", json={**link, "user_id": "U0999999"}, headers=bearer(admin)),
                 422, "invalid_request")
    assert client.post("/api/v1/auth/links", json=link, headers=bearer(admin)).status_code == 200
    r = kakao_login(client)
    assert r.status_code == 200 and r.json()["user_id"] == "U0000005"
    assert client.delete("/api/v1/auth/links/777000111", headers=bearer(admin)).status_code == 204
    assert_error(client.delete("/api/v1/auth/links/777000111", headers=bearer(admin)), 404, "not_found")
    assert_error(kakao_login(client), 403, "forbidden", "account_not_linked")


def test_kakao_not_configured_is_503(make_client):
    client = make_client(KAKAO_CLIENT_ID="", KAKAO_REDIRECT_URI="")
    assert_error(client.get("/api/v1/auth/kakao/login", follow_redirects=False), 503, "auth_unavailable",
                 "kakao_not_configured")


# --- dev login ----------------------------------------------------------------------------------


def test_dev_login_picks_a_demo_user(client):
    users = client.get("/api/v1/auth/dev-users?limit=5")
    assert users.status_code == 200
    listed = users.json()
    assert [u["user_id"] for u in listed] == [f"U{i:07d}" for i in range(1, 6)]
    assert {"age", "gender", "risk_profile", "risk_profile_ko"} <= set(listed[0])
    r = client.post("/api/v1/auth/dev-login", json={"user_id": "U0000002"})
    assert r.status_code == 200 and r.json()["user_id"] == "U0000002"
    me = client.get("/api/v1/auth/me", headers=bearer(r.json()["access_token"]))
    assert me.json()["user_id"] == "U0000002"
    assert_error(client.post("/api/v1/auth/dev-login", json={"user_id": "U0000999"}), 400, "login_failed",
                 "unknown_user")
    assert client.post("/api/v1/auth/dev-login", json={"user_id": "bob"}).status_code == 422


def test_unreadable_user_db_is_503_not_500(make_client, tmp_path):
    client = make_client(FINRAY_USER_DB_URL=f"sqlite:///{tmp_path / 'not-seeded.sqlite'}")
    body = assert_error(client.get("/api/v1/auth/dev-users"), 503, "auth_unavailable", "user_db_unavailable")
    assert "FINRAY_USER_DB_URL" in body["detail"]
    assert_error(client.post("/api/v1/auth/dev-login", json={"user_id": "U0000001"}), 503, "auth_unavailable")


def test_dev_login_is_refused_when_disabled(make_client):
    client = make_client(AUTH_DEV_LOGIN="false")
    assert_error(client.get("/api/v1/auth/dev-users"), 403, "forbidden", "dev_login_disabled")
    r = client.post("/api/v1/auth/dev-login", json={"user_id": "U0000001"})
    body = assert_error(r, 403, "forbidden", "dev_login_disabled")
    assert "AUTH_DEV_LOGIN" in body["detail"]


# --- refresh and logout ---------------------------------------------------------------------------


def test_refresh_rotation_and_reuse_over_http(client):
    first = client.post("/api/v1/auth/dev-login", json={"user_id": "U0000001"}).json()
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200 and second.headers["cache-control"] == "no-store"
    second = second.json()
    assert client.get("/api/v1/auth/me", headers=bearer(second["access_token"])).status_code == 200
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_error(reuse, 401, "unauthorized", "refresh_token_reused")
    assert_error(client.get("/api/v1/auth/me", headers=bearer(second["access_token"])), 401, "unauthorized",
                 "token_revoked")
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}), 401,
                 "unauthorized")


def test_reuse_detected_after_a_restart_of_the_service(make_client):
    before = make_client()
    first = before.post("/api/v1/auth/dev-login", json={"user_id": "U0000001"}).json()
    second = before.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    before.app.state.auth.close()
    after = make_client()  # a new app/service over the same FINRAY_HOME (e.g. a replica restart)
    assert_error(after.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401,
                 "unauthorized", "refresh_token_reused")
    assert_error(after.get("/api/v1/auth/me", headers=bearer(second["access_token"])), 401, "unauthorized",
                 "token_revoked")


def test_logout_revokes_at_once(client):
    t = client.post("/api/v1/auth/dev-login", json={"user_id": "U0000001"}).json()
    assert client.post("/api/v1/auth/logout", headers=bearer(t["access_token"])).status_code == 204
    assert_error(client.get("/api/v1/auth/me", headers=bearer(t["access_token"])), 401, "unauthorized",
                 "token_revoked")
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": t["refresh_token"]}), 401,
                 "unauthorized")


def test_logout_with_an_expired_access_token_and_the_refresh_token(client, clock):
    t = client.post("/api/v1/auth/dev-login", json={"user_id": "U0000001"}).json()
    clock.advance(1000)  # access token expired, refresh token still valid
    expired_only = client.post("/api/v1/auth/logout", headers=bearer(t["access_token"]))
    assert_error(expired_only, 401, "unauthorized", "token_expired")
    r = client.post("/api/v1/auth/logout", headers=bearer(t["access_token"]),
                    json={"refresh_token": t["refresh_token"]})
    assert r.status_code == 204
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": t["refresh_token"]}), 401,
                 "unauthorized")


def test_logout_without_any_credential_is_401(client):
    assert_error(client.post("/api/v1/auth/logout"), 401, "unauthorized")


# --- the authorization matrix ---------------------------------------------------------------------

PROTECTED = [
    # (method, path, json body, owner-only?, admin-only?)
    ("GET", "/api/v1/users/U0000001/profile", None, True, False),
    ("POST", "/api/v1/chat", {"user_id": "U0000001", "question": "예금 추천"}, True, False),
    ("GET", "/api/v1/admin/stats", None, False, True),
    ("GET", "/api/v1/auth/me", None, False, False),
    ("GET", "/api/v1/logs", None, False, False),
]


def _alg_none(token: str) -> str:
    _h, payload, _s = token.split(".")
    return f"{b64url(json.dumps({'alg': 'none', 'typ': 'at+jwt'}).encode())}.{payload}."


def _bad_signature(token: str) -> str:
    head, payload, sig = token.split(".")
    return f"{head}.{payload}.{('A' if sig[0] != 'A' else 'B') + sig[1:]}"


@pytest.mark.parametrize("method,path,body,owner_only,admin_only", PROTECTED)
def test_security_matrix(client, clock, method, path, body, owner_only, admin_only):
    def call(headers: dict[str, str] | None = None) -> httpx.Response:
        return client.request(method, path, json=body, headers=headers or {})

    # no token: 401, a challenge without error= (RFC 6750 §3.1)
    r = call()
    assert_error(r, 401, "unauthorized", "missing_token")
    assert r.headers["www-authenticate"] == 'Bearer realm="finray"'
    # wrong scheme
    assert_error(call({"Authorization": "Basic dXNlcjpwdw=="}), 401, "unauthorized", "invalid_request")

    own = tokens_for(client, "U0000001")["access_token"]
    other = tokens_for(client, "U0000002")["access_token"]
    admin = tokens_for(client, ADMIN)["access_token"]
    for forged in (_bad_signature(own), _alg_none(own), "not.a.jwt"):
        r = call(bearer(forged))
        assert_error(r, 401, "unauthorized", "invalid_token")
        assert 'error="invalid_token"' in r.headers["www-authenticate"]

    expected_own = 403 if admin_only else 200
    r = call(bearer(own))
    assert r.status_code == expected_own, r.text
    if admin_only:
        assert_error(r, 403, "forbidden", "admin_required")
    r = call(bearer(other))  # another user's token on U0000001's resource
    expected_other = 403 if (owner_only or admin_only) else 200
    assert r.status_code == expected_other, r.text
    if r.status_code == 403:
        assert r.json()["error"] == "forbidden" and "www-authenticate" not in r.headers
    assert call(bearer(admin)).status_code == 200  # admins may act for any user

    clock.advance(900 + 10)  # every token above is now expired
    assert_error(call(bearer(own)), 401, "unauthorized", "token_expired")


def test_401_and_403_bodies_say_what_is_missing(client):
    r401 = client.get("/api/v1/users/U0000001/profile")
    r403 = client.get("/api/v1/users/U0000001/profile",
                      headers=bearer(tokens_for(client, "U0000002")["access_token"]))
    assert r401.json()["detail"].startswith("missing Authorization: Bearer")
    assert r403.json() == {"error": "forbidden", "reason": "not_own_user_id",
                           "detail": "user_id U0000001 is not the signed-in user's (U0000002)"}


def test_malformed_user_id_is_422(client):
    token = tokens_for(client, "U0000001")["access_token"]
    assert_error(client.get("/api/v1/users/robert'); DROP/profile", headers=bearer(token)), 422,
                 "invalid_request")
    r = client.post("/api/v1/chat", json={"user_id": "x", "question": "q"}, headers=bearer(token))
    assert_error(r, 422, "invalid_request")


def test_public_routes_need_no_token(client):
    assert client.get("/").status_code == 200


# --- input limits ---------------------------------------------------------------------------------


def test_page_size_bounds(client):
    token = bearer(tokens_for(client, "U0000001")["access_token"])
    assert client.get("/api/v1/logs?limit=100", headers=token).json()["limit"] == 100
    assert client.get("/api/v1/logs", headers=token).json() == {"offset": 0, "limit": 20, "user_id": "U0000001"}
    for q in ("limit=0", "limit=101", "offset=-1", "limit=abc"):
        assert client.get(f"/api/v1/logs?{q}", headers=token).status_code == 422


def test_body_size_limit_by_content_length(make_client):
    client = make_client(MAX_REQUEST_BODY_BYTES="2048")
    assert client.post("/api/v1/echo", json={"a": "x" * 1000}).status_code == 200
    r = client.post("/api/v1/echo", json={"a": "x" * 5000})
    assert_error(r, 413, "payload_too_large")
    assert "2,048 bytes" in r.json()["detail"]


def test_body_size_limit_while_streaming_without_length(make_client):
    client = make_client(MAX_REQUEST_BODY_BYTES="2048")

    def chunks():
        yield b'{"a": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    r = client.post("/api/v1/echo", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")


def test_bad_content_length_is_400(make_client):
    client = make_client()
    r = client.post("/api/v1/echo", content=b"{}", headers={"Content-Length": "abc", "Content-Type": "application/json"})
    assert r.status_code == 400


# --- rate limits ----------------------------------------------------------------------------------


def test_user_rate_limit_is_429_with_retry_after(make_client, clock):
    client = make_client(RATE_LIMIT_USER_BURST="3", RATE_LIMIT_USER_PER_MIN="6")  # 1 token / 10 s
    token = bearer(tokens_for(client, "U0000001")["access_token"])
    body = {"user_id": "U0000001", "question": "q"}
    assert [client.post("/api/v1/chat", json=body, headers=token).status_code for _ in range(3)] == [200] * 3
    r = client.post("/api/v1/chat", json=body, headers=token)
    assert_error(r, 429, "rate_limited", "user_rate_limit")
    assert r.headers["retry-after"] == "10"
    other = bearer(tokens_for(client, "U0000002")["access_token"])
    assert client.post("/api/v1/chat", json={**body, "user_id": "U0000002"}, headers=other).status_code == 200
    clock.advance(10)
    assert client.post("/api/v1/chat", json=body, headers=token).status_code == 200


def test_ip_rate_limit_applies_before_authentication(make_client):
    client = make_client(RATE_LIMIT_IP_BURST="2", RATE_LIMIT_IP_PER_MIN="1")
    assert client.post("/api/v1/chat", json={}).status_code == 401
    assert client.post("/api/v1/chat", json={}).status_code == 401
    r = client.post("/api/v1/chat", json={})
    assert_error(r, 429, "rate_limited", "ip_rate_limit")
    assert r.headers["retry-after"] == "60"
    assert_error(client.get("/api/v1/auth/kakao/login", follow_redirects=False), 429, "rate_limited")


def test_trusted_proxy_hops_pick_the_right_forwarded_address(make_client):
    client = make_client(RATE_LIMIT_IP_BURST="1", RATE_LIMIT_IP_PER_MIN="1", TRUSTED_PROXY_HOPS="1")
    spoofed = {"X-Forwarded-For": "6.6.6.6, 10.0.0.1"}  # the client wrote 6.6.6.6; our LB saw 10.0.0.1
    assert client.get("/api/v1/auth/dev-users", headers=spoofed).status_code == 200
    assert client.get("/api/v1/auth/dev-users", headers={"X-Forwarded-For": "7.7.7.7, 10.0.0.1"}).status_code == 429
    assert client.get("/api/v1/auth/dev-users", headers={"X-Forwarded-For": "10.0.0.2"}).status_code == 200


def test_rate_limit_against_redis(make_client):
    url = redis_url()
    prefix = unique_prefix("api-rl")
    limiter = RedisRateLimiter(url, prefix=prefix)
    try:
        client = make_client(rate_limiter=limiter, RATE_LIMIT_USER_BURST="2", RATE_LIMIT_USER_PER_MIN="6")
        token = bearer(tokens_for(client, "U0000001")["access_token"])
        body = {"user_id": "U0000001", "question": "q"}
        codes = [client.post("/api/v1/chat", json=body, headers=token).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = client.post("/api/v1/chat", json=body, headers=token)
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 10
    finally:
        limiter.close()
        cleanup_redis(url, prefix)


# --- alerts on unhandled exceptions ---------------------------------------------------------------


def test_unhandled_exception_is_500_and_alerts_without_pii(make_client, slack):
    client = make_client(raise_server_exceptions=False, SLACK_WEBHOOK_URL=slack.webhook_url)
    token = tokens_for(client, "U0000004")["access_token"]
    r = client.get("/api/v1/boom?email=lee@example.com", headers=bearer(token))
    assert r.status_code == 500
    client.get("/api/v1/boom", headers=bearer(token))  # same problem again: deduplicated
    client.app.state.alerter.flush(5)
    assert len(slack.messages) == 1
    text = slack.messages[0]["text"]
    assert "unhandled API exception" in text and "GET /api/v1/boom" in text and "RuntimeError" in text
    for leaked in ("2222-3333", "lee@example.com", token[:20], token.split(".")[2][:10]):
        assert leaked not in text


def test_openapi_documents_bearer_auth(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    me = schema["paths"]["/api/v1/auth/me"]["get"]
    assert me["security"] == [{"BearerAuth": []}] and "401" in me["responses"]
    assert {"/api/v1/auth/kakao/login", "/api/v1/auth/kakao/callback", "/api/v1/auth/refresh",
            "/api/v1/auth/logout", "/api/v1/auth/dev-login", "/api/v1/auth/dev-users"} <= set(schema["paths"])


def test_install_security_sets_the_documented_state(client):
    st = client.app.state
    for name in ("settings", "auth", "rate_limiter", "rate_policies", "alerter"):
        assert getattr(st, name) is not None
    assert os.path.exists(st.settings.home / "auth.sqlite")
