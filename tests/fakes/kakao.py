"""Loopback fake of Kakao Login: ``/oauth/authorize``, ``/oauth/token`` and ``/v2/user/me``.

Speaks the documented wire format (developers.kakao.com, 카카오 로그인 REST API and 에러 코드):

* ``GET /oauth/authorize?client_id&redirect_uri&response_type=code&state`` → ``302`` to
  ``redirect_uri?code=…&state=…`` for the user in :attr:`FakeKakao.next_user`, or
  ``?error=access_denied&error_description=User denied access&state=…`` when
  :attr:`FakeKakao.deny_consent` is set. An unknown key or unregistered redirect URI gets
  Kakao's error page (HTTP 400 here, with KOE101 / KOE006), never a redirect.
* ``POST /oauth/token`` (``application/x-www-form-urlencoded``, ``grant_type=authorization_code``,
  ``client_id``, ``redirect_uri``, ``code``, ``client_secret``) → bearer tokens; errors as
  ``{"error", "error_description", "error_code"}``: KOE320 (code not found — unknown, used or
  expired: codes are single-use and live :attr:`FakeKakao.code_ttl_s`), KOE303 (redirect URI
  mismatch), KOE010 (bad client secret), KOE101 (unknown client id).
* ``GET|POST /v2/user/me`` with ``Authorization: Bearer`` → ``{"id", "connected_at",
  "kakao_account": {...}}``; ``401 {"msg": "this access token does not exist", "code": -401}``
  for a bad token, or ``500 {"msg": "internal error", "code": -1}`` when
  :attr:`FakeKakao.fail_user_info` is set.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

from tests.fakes.loopback import LoopbackServer

CLIENT_ID = "fake-rest-api-key-0123456789abcdef"
CLIENT_SECRET = "fake-client-secret-abcdef0123456789"
DEFAULT_USER = {"id": 4_242_424_242, "nickname": "홍길동", "email": "hong@example.com"}


def _token_error(status: int, error: str, description: str, code: str) -> tuple[int, Any, dict[str, str]]:
    return status, {"error": error, "error_description": description, "error_code": code}, {
        "Content-Type": "application/json;charset=UTF-8"
    }


class FakeKakao:
    """State of the fake: registered app, users, issued codes and tokens; run with ``with``."""

    def __init__(self, redirect_uris: list[str] | None = None, *, require_secret: bool = True) -> None:
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET if require_secret else None
        self.redirect_uris = list(redirect_uris or [])
        self.next_user: dict[str, Any] = dict(DEFAULT_USER)
        self.deny_consent = False
        self.fail_user_info = False
        self.code_ttl_s = 600.0
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.server = LoopbackServer(self.handle)

    @property
    def url(self) -> str:
        return self.server.url

    def reset(self) -> None:
        """Back to a cooperative Kakao (for fixtures shared by several tests)."""
        self.next_user = dict(DEFAULT_USER)
        self.deny_consent = False
        self.fail_user_info = False
        self.code_ttl_s = 600.0

    def __enter__(self) -> FakeKakao:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    # --- routing ------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, body: Any, headers: dict) -> tuple[int, Any, dict]:
        if path == "/oauth/authorize" and method == "GET":
            return self._authorize({k: v[0] for k, v in query.items()})
        if path == "/oauth/token" and method == "POST":
            ctype = headers.get("content-type", "")
            if not ctype.startswith("application/x-www-form-urlencoded"):
                return _token_error(400, "invalid_request", "content type must be form-urlencoded", "KOE001")
            form = {k: v[0] for k, v in parse_qs(body if isinstance(body, str) else "").items()}
            return self._token(form)
        if path == "/v2/user/me" and method in {"GET", "POST"}:
            return self._user_me(headers)
        return 404, {"msg": f"no route {method} {path}", "code": -404}, {}

    # --- endpoints ----------------------------------------------------------------------
    def _authorize(self, q: dict[str, str]) -> tuple[int, Any, dict]:
        if q.get("client_id") != self.client_id:
            return 400, {"error": "invalid_client", "error_code": "KOE101"}, {}
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return 400, {"error": "invalid_request", "error_code": "KOE006"}, {}
        if q.get("response_type") != "code":
            return 400, {"error": "invalid_request", "error_code": "KOE201"}, {}
        params: dict[str, str] = {}
        if self.deny_consent:
            params = {"error": "access_denied", "error_description": "User denied access"}
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self.codes[code] = {
                    "redirect_uri": redirect_uri, "user": dict(self.next_user),
                    "issued_at": time.monotonic(), "used": False,
                }
            params = {"code": code}
        if "state" in q:
            params["state"] = q["state"]
        return 302, b"", {"Location": f"{redirect_uri}?{urlencode(params)}", "Content-Type": "text/html"}

    def _token(self, form: dict[str, str]) -> tuple[int, Any, dict]:
        if form.get("grant_type") != "authorization_code":
            return _token_error(400, "unsupported_grant_type", "grant_type must be authorization_code", "KOE001")
        if form.get("client_id") != self.client_id:
            return _token_error(401, "invalid_client", f"Not exist client_id [{form.get('client_id')}]", "KOE101")
        if self.client_secret is not None and form.get("client_secret") != self.client_secret:
            return _token_error(401, "invalid_client", "Bad client credentials", "KOE010")
        code = form.get("code", "")
        with self._lock:
            entry = self.codes.get(code)
            expired = entry is not None and time.monotonic() - entry["issued_at"] > self.code_ttl_s
            if entry is None or entry["used"] or expired:
                return _token_error(400, "invalid_grant", f"authorization code not found for code={code}", "KOE320")
            if form.get("redirect_uri") != entry["redirect_uri"]:
                return _token_error(400, "invalid_grant", "Redirect URI mismatch.", "KOE303")
            entry["used"] = True
            access = secrets.token_urlsafe(40)
            self.tokens[access] = entry["user"]
        return 200, {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": 21599,
            "refresh_token": secrets.token_urlsafe(40),
            "refresh_token_expires_in": 5183999,
            "scope": "profile_nickname",
        }, {"Content-Type": "application/json;charset=UTF-8"}

    def _user_me(self, headers: dict[str, str]) -> tuple[int, Any, dict]:
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        with self._lock:
            user = self.tokens.get(token)
        if user is None:
            return 401, {"msg": "this access token does not exist", "code": -401}, {}
        if self.fail_user_info:
            return 500, {"msg": "internal error", "code": -1}, {}
        return 200, {
            "id": user["id"],
            "connected_at": "2026-07-01T00:00:00Z",
            "kakao_account": {
                "profile_nickname_needs_agreement": False,
                "profile": {"nickname": user.get("nickname"), "is_default_nickname": False},
                "has_email": True,
                "email_needs_agreement": False,
                "email": user.get("email"),
            },
        }, {"Content-Type": "application/json;charset=UTF-8"}
