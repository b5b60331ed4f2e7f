"""KakaoClient against the loopback fake Kakao (documented endpoints and error bodies)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from finray.auth import AuthMisconfigured, LoginFailed, ProviderUnavailable
from finray.auth.kakao import KakaoClient, KakaoConfig
from tests.fakes.kakao import CLIENT_ID, CLIENT_SECRET, FakeKakao

REDIRECT = "http://127.0.0.1:9/api/v1/auth/kakao/callback"  # never contacted: we read Location


@pytest.fixture(scope="module")
def kakao_server():
    with FakeKakao([REDIRECT, REDIRECT + "-other"]) as fake:
        yield fake


@pytest.fixture
def kakao(kakao_server):
    kakao_server.reset()
    kakao_server.server.requests.clear()
    return kakao_server


def client_for(fake: FakeKakao, **kw) -> KakaoClient:
    cfg = dict(client_id=CLIENT_ID, redirect_uri=REDIRECT, client_secret=CLIENT_SECRET,
               auth_host=fake.url, api_host=fake.url, timeout_s=5.0)
    cfg.update(kw)
    return KakaoClient(KakaoConfig(**cfg))


def authorize(url: str) -> dict[str, str]:
    """Play the browser: follow Kakao's authorize page to the redirect and read its query."""
    resp = httpx.get(url, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    loc = resp.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(loc).query).items()} | {"_to": loc.split("?")[0]}


def test_authorize_url_has_the_documented_parameters(kakao):
    url = client_for(kakao).authorize_url("st4te")
    parts = urlsplit(url)
    assert parts.path == "/oauth/authorize"
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code", "state": "st4te",
    }


def test_full_exchange_reads_the_kakao_id(kakao):
    client = client_for(kakao)
    got = authorize(client.authorize_url("abc"))
    assert got["_to"] == REDIRECT and got["state"] == "abc"
    tokens = client.exchange_code(got["code"])
    assert tokens.token_type == "bearer" and tokens.expires_in == 21599
    user = client.fetch_user(tokens.access_token)
    assert user.id == 4_242_424_242
    token_req = next(r for r in kakao.server.requests if r["path"] == "/oauth/token")
    assert token_req["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
    form = {k: v[0] for k, v in parse_qs(token_req["body"]).items()}
    assert form == {"grant_type": "authorization_code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
                    "code": got["code"], "client_secret": CLIENT_SECRET}


def test_bad_code_is_a_login_failure(kakao):
    with pytest.raises(LoginFailed, match="KOE320") as info:
        client_for(kakao).exchange_code("not-a-real-code")
    assert info.value.reason == "invalid_code"


def test_used_code_is_a_login_failure(kakao):
    client = client_for(kakao)
    code = authorize(client.authorize_url("s"))["code"]
    client.exchange_code(code)
    with pytest.raises(LoginFailed) as info:
        client.exchange_code(code)
    assert info.value.reason == "invalid_code"


def test_expired_code_is_a_login_failure(kakao):
    client = client_for(kakao)
    code = authorize(client.authorize_url("s"))["code"]
    kakao.code_ttl_s = 0.0
    with pytest.raises(LoginFailed) as info:
        client.exchange_code(code)
    assert info.value.reason == "invalid_code"


def test_wrong_redirect_uri_is_our_misconfiguration(kakao):
    code = authorize(client_for(kakao, redirect_uri=REDIRECT + "-other").authorize_url("s"))["code"]
    with pytest.raises(AuthMisconfigured, match="KAKAO_REDIRECT_URI") as info:
        client_for(kakao).exchange_code(code)
    assert info.value.reason == "redirect_uri_mismatch"


@pytest.mark.parametrize("override", [{"client_secret": "wrong-secret"}, {"client_id": "wrong-key"}])
def test_rejected_client_credentials_are_our_misconfiguration(kakao, override):
    code = authorize(client_for(kakao).authorize_url("s"))["code"]
    with pytest.raises(AuthMisconfigured, match="KAKAO_CLIENT_ID/KAKAO_CLIENT_SECRET") as info:
        client_for(kakao, **override).exchange_code(code)
    assert info.value.reason == "invalid_client"


def test_user_info_failure(kakao):
    client = client_for(kakao)
    tokens = client.exchange_code(authorize(client.authorize_url("s"))["code"])
    kakao.fail_user_info = True
    with pytest.raises(ProviderUnavailable, match="HTTP 500") as info:
        client.fetch_user(tokens.access_token)
    assert info.value.reason == "user_info_failed"


def test_user_info_with_a_bad_token(kakao):
    with pytest.raises(ProviderUnavailable, match="-401") as info:
        client_for(kakao).fetch_user("bogus")
    assert info.value.reason == "user_info_failed"


def test_consent_denied_comes_back_as_an_error_redirect(kakao):
    kakao.deny_consent = True
    got = authorize(client_for(kakao).authorize_url("s"))
    assert got["error"] == "access_denied" and got["state"] == "s" and "code" not in got


def test_unreachable_kakao_is_provider_unavailable():
    cfg = KakaoConfig(client_id="x", redirect_uri=REDIRECT, auth_host="http://127.0.0.1:1",
                      api_host="http://127.0.0.1:1", timeout_s=2.0)
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        KakaoClient(cfg).exchange_code("c")
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        KakaoClient(cfg).fetch_user("t")
