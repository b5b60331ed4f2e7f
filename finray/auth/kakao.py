"""Kakao Login (OAuth 2.0 authorization code grant), the server side, over httpx.

Protocol as documented at developers.kakao.com (카카오 로그인 > REST API, and 문제 해결 > 에러 코드):

1. **Authorize** — the browser is sent to ``GET {KAKAO_AUTH_HOST}/oauth/authorize`` with
   ``client_id`` (the app's REST API key), ``redirect_uri`` (registered in the app),
   ``response_type=code`` and our ``state``. Kakao logs the user in, asks consent and redirects
   to ``redirect_uri?code=…&state=…`` — or ``?error=access_denied&error_description=…&state=…``
   when the user cancels. Problems with the app itself (unknown key KOE101, unregistered
   redirect URI KOE006 …) are shown on Kakao's own error page and never reach us.
2. **Token** — ``POST {KAKAO_AUTH_HOST}/oauth/token`` as
   ``application/x-www-form-urlencoded;charset=utf-8`` with ``grant_type=authorization_code``,
   ``client_id``, ``redirect_uri``, ``code`` and ``client_secret`` (when the app enables it).
   Success: ``{"token_type": "bearer", "access_token", "expires_in", "refresh_token",
   "refresh_token_expires_in", "scope"?, "id_token"?}``. Failure: HTTP 400/401 with
   ``{"error", "error_description", "error_code"}``, e.g. ``invalid_grant``/``KOE320`` (code
   not found: wrong, already used or expired — codes are single-use and short-lived),
   ``invalid_grant``/``KOE303`` (redirect URI differs from the one the code was issued for),
   ``invalid_client``/``KOE010`` (bad client secret), ``invalid_client``/``KOE101`` (bad key).
3. **User info** — ``GET {KAKAO_API_HOST}/v2/user/me`` with ``Authorization: Bearer
   {access_token}``: ``{"id": <회원번호>, "connected_at", "kakao_account": {...}}``; errors are
   ``{"msg", "code"}`` with negative codes (``-401`` invalid token, ``-101`` not linked, ...).

Only the numeric Kakao ``id`` is kept (to find the linked finray user); Kakao's tokens are used
once, never stored, and the profile (nickname, e-mail) is not persisted anywhere — data
minimization. The code exchange is not retried: the code is single-use, so a retry after a lost
response would only produce KOE320.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from finray.auth.errors import AuthMisconfigured, LoginFailed, ProviderUnavailable
from finray.config import Settings


@dataclass(frozen=True)
class KakaoConfig:
    client_id: str
    redirect_uri: str
    client_secret: str | None = None
    auth_host: str = "https://kauth.kakao.com"
    api_host: str = "https://kapi.kakao.com"
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> KakaoConfig | None:
        """``None`` when Kakao login is not configured (``KAKAO_CLIENT_ID`` unset)."""
        if not settings.kakao_client_id or not settings.kakao_redirect_uri:
            return None
        secret = settings.kakao_client_secret.get_secret_value() if settings.kakao_client_secret else None
        return cls(
            client_id=settings.kakao_client_id,
            redirect_uri=settings.kakao_redirect_uri,
            client_secret=secret,
            auth_host=settings.kakao_auth_host.rstrip("/"),
            api_host=settings.kakao_api_host.rstrip("/"),
            timeout_s=settings.http_timeout_s,
        )


@dataclass(frozen=True)
class KakaoTokens:
    access_token: str
    token_type: str
    expires_in: int
    scope: str | None = None


@dataclass(frozen=True)
class KakaoUser:
    """The Kakao account as far as we use it: its app-scoped member number (회원번호)."""

    id: int
    connected_at: str | None = None


def _error_body(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class KakaoClient:
    """Authorize URL, code exchange and user info; errors become :mod:`finray.auth.errors`."""

    def __init__(self, config: KakaoConfig, *, http: httpx.Client | None = None) -> None:
        self.config = config
        self._http = http or httpx.Client(timeout=config.timeout_s, follow_redirects=False)

    def authorize_url(self, state: str, *, scope: str | None = None) -> str:
        params = {
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "response_type": "code",
            "state": state,
        }
        if scope:
            params["scope"] = scope
        return f"{self.config.auth_host}/oauth/authorize?{urlencode(params)}"

    def exchange_code(self, code: str) -> KakaoTokens:
        """Trade the authorization code for Kakao tokens (POST /oauth/token)."""
        form = {
            "grant_type": "authorization_code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "code": code,
        }
        if self.config.client_secret:
            form["client_secret"] = self.config.client_secret
        try:
            resp = self._http.post(
                f"{self.config.auth_host}/oauth/token",
                data=form,
                headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
            )
        except httpx.HTTPError as err:
            raise ProviderUnavailable(f"Kakao token endpoint unreachable: {type(err).__name__}") from None
        if resp.status_code == 200:
            body = _error_body(resp)
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise ProviderUnavailable("Kakao token response has no access_token")
            return KakaoTokens(
                access_token=token,
                token_type=str(body.get("token_type", "bearer")),
                expires_in=int(body.get("expires_in") or 0),
                scope=body.get("scope"),
            )
        raise self._token_error(resp)

    @staticmethod
    def _token_error(resp: httpx.Response) -> Exception:
        body = _error_body(resp)
        code = str(body.get("error_code") or "")
        error = str(body.get("error") or "")
        where = f"Kakao token endpoint: HTTP {resp.status_code} {error or '-'} {code or '-'}".rstrip()
        if code == "KOE320" or (error == "invalid_grant" and code != "KOE303"):
            return LoginFailed(
                f"authorization code is invalid, expired or already used; sign in again ({code or error})",
                reason="invalid_code",
            )
        if code == "KOE303":
            return AuthMisconfigured(
                f"KAKAO_REDIRECT_URI does not match the redirect URI of the code ({where})",
                reason="redirect_uri_mismatch",
            )
        if error == "invalid_client" or code in {"KOE010", "KOE101"}:
            return AuthMisconfigured(
                f"KAKAO_CLIENT_ID/KAKAO_CLIENT_SECRET rejected by Kakao ({where})",
                reason="invalid_client",
            )
        if resp.status_code >= 500 or code == "KOE003":
            return ProviderUnavailable(f"Kakao is temporarily unavailable ({where})")
        return ProviderUnavailable(f"Kakao refused the code exchange ({where})", reason="token_exchange_failed")

    def fetch_user(self, access_token: str) -> KakaoUser:
        """The signed-in Kakao account (GET /v2/user/me)."""
        try:
            resp = self._http.get(
                f"{self.config.api_host}/v2/user/me",
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Content-Type": "application/x-www-form-urlencoded;charset=utf-8",
                },
            )
        except httpx.HTTPError as err:
            raise ProviderUnavailable(
                f"Kakao user-info endpoint unreachable: {type(err).__name__}", reason="user_info_failed"
            ) from None
        body = _error_body(resp)
        if resp.status_code != 200:
            raise ProviderUnavailable(
                f"Kakao user-info failed: HTTP {resp.status_code} code {body.get('code', '-')}"
                f" ({body.get('msg', 'no message')})",
                reason="user_info_failed",
            )
        kakao_id = body.get("id")
        if not isinstance(kakao_id, int) or isinstance(kakao_id, bool) or kakao_id <= 0:
            raise ProviderUnavailable("Kakao user-info response has no numeric id", reason="user_info_failed")
        return KakaoUser(id=kakao_id, connected_at=body.get("connected_at"))

    def close(self) -> None:
        self._http.close()
