"""Opt-in contract test against the real Kakao Login (what can be checked without a browser).

Runs only with ``FINRAY_TEST_KAKAO=1`` plus ``KAKAO_CLIENT_ID`` and ``KAKAO_REDIRECT_URI`` (and
``KAKAO_CLIENT_SECRET`` if the app enables it) of a registered Kakao app. It checks that the
real endpoints answer the way the fake in tests/fakes/kakao.py does: the authorize URL is
accepted (a redirect to the login page, not a KOE error page), a bogus code is KOE320 →
``invalid_code``, a bogus access token is ``-401`` on /v2/user/me.
"""

from __future__ import annotations

import os

import httpx
import pytest

from finray.auth import LoginFailed, ProviderUnavailable
from finray.auth.kakao import KakaoClient, KakaoConfig

pytestmark = pytest.mark.integration

if not (os.environ.get("FINRAY_TEST_KAKAO") == "1" and os.environ.get("KAKAO_CLIENT_ID")
        and os.environ.get("KAKAO_REDIRECT_URI")):
    pytest.skip(
        "real Kakao contract test: set FINRAY_TEST_KAKAO=1, KAKAO_CLIENT_ID and KAKAO_REDIRECT_URI",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def client() -> KakaoClient:
    return KakaoClient(KakaoConfig(
        client_id=os.environ["KAKAO_CLIENT_ID"],
        redirect_uri=os.environ["KAKAO_REDIRECT_URI"],
        client_secret=os.environ.get("KAKAO_CLIENT_SECRET") or None,
    ))


def test_authorize_url_is_accepted(client):
    resp = httpx.get(client.authorize_url("contract-test-state"), follow_redirects=False, timeout=10)
    assert resp.status_code in (302, 303), resp.text[:300]
    assert "KOE" not in resp.headers.get("location", "")


def test_bogus_code_is_koe320(client):
    with pytest.raises(LoginFailed) as info:
        client.exchange_code("contract-test-not-a-real-code")
    assert info.value.reason == "invalid_code"


def test_bogus_access_token_is_rejected_by_user_info(client):
    with pytest.raises(ProviderUnavailable, match="-401") as info:
        client.fetch_user("contract-test-not-a-real-token")
    assert info.value.reason == "user_info_failed"
