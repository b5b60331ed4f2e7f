"""The sign-in flows in one place: Kakao login, dev login, refresh, logout, token checks.

:class:`AuthService` composes the parts (store, token service, Kakao client, account links,
user directory) and is what the HTTP layer talks to; it knows nothing about HTTP.

Kakao ``state`` handling (CSRF protection of the redirect, RFC 6749 §10.12): the login step
stores a random ``state`` (256 bits) in the auth store for :data:`STATE_TTL_S` and also hands it
to the browser in an HttpOnly cookie. The callback must present the same value in the query and
the cookie (so an attacker cannot splice their own code into a victim's browser), and the store
entry is deleted on first use (so a state works once and only within its lifetime).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from finray.auth.accounts import (
    AccountLinks,
    ReadOnlyUserDirectory,
    UserDirectory,
    parse_kakao_links,
    parse_user_ids,
)
from finray.auth.errors import AuthMisconfigured, DevLoginDisabled, InvalidToken, LoginFailed
from finray.auth.kakao import KakaoClient, KakaoConfig
from finray.auth.keys import signing_key
from finray.auth.store import AuthStore, open_auth_store
from finray.auth.tokens import Principal, TokenPair, TokenService
from finray.config import Settings
from finray.users.db import UserRecord

STATE_TTL_S = 600
DEV_USERS_MAX = 50


@dataclass(frozen=True)
class LoginStart:
    authorize_url: str
    state: str
    expires_in: int


class AuthService:
    """Everything the auth routes and the auth dependency need."""

    def __init__(
        self,
        *,
        tokens: TokenService,
        links: AccountLinks,
        kakao: KakaoClient | None,
        users: UserDirectory | None,
        dev_login_enabled: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tokens = tokens
        self.store: AuthStore = tokens.store
        self.links = links
        self.kakao = kakao
        self.users = users
        self.dev_login_enabled = dev_login_enabled
        self.clock = clock

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: AuthStore | None = None,
        users: UserDirectory | None = None,
        kakao: KakaoClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> AuthService:
        """Wire the parts from settings; pass ``store``/``users``/``kakao`` to override one."""
        key = signing_key(settings)  # first: a prod start-up without a key fails before any I/O
        store = store or open_auth_store(settings)
        if users is None:
            from finray.users.db import create_readonly_engine

            users = ReadOnlyUserDirectory(create_readonly_engine(settings.resolved_user_db_url))
        if kakao is None:
            config = KakaoConfig.from_settings(settings)
            kakao = KakaoClient(config) if config else None
        tokens = TokenService(
            key,
            store,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            access_ttl_s=settings.auth_access_ttl_s,
            refresh_ttl_s=settings.auth_refresh_ttl_s,
            admin_user_ids=parse_user_ids(settings.auth_admin_user_ids),
            clock=clock,
        )
        links = AccountLinks(store, parse_kakao_links(settings.auth_kakao_links), users, clock)
        return cls(
            tokens=tokens, links=links, kakao=kakao, users=users,
            dev_login_enabled=settings.auth_dev_login, clock=clock,
        )

    # --- Kakao ------------------------------------------------------------------------------
    def _kakao(self) -> KakaoClient:
        if self.kakao is None:
            raise AuthMisconfigured(
                "Kakao login is not configured: set KAKAO_CLIENT_ID and KAKAO_REDIRECT_URI",
                reason="kakao_not_configured",
            )
        return self.kakao

    def begin_kakao_login(self) -> LoginStart:
        kakao = self._kakao()
        state = secrets.token_urlsafe(32)
        self.store.put_state(state, {"provider": "kakao"}, self.clock() + STATE_TTL_S)
        return LoginStart(kakao.authorize_url(state), state, STATE_TTL_S)

    def complete_kakao_login(
        self,
        *,
        code: str | None,
        state: str | None,
        cookie_state: str | None,
        error: str | None = None,
        error_description: str | None = None,
    ) -> TokenPair:
        """Check ``state``, exchange ``code``, read the Kakao id, resolve the link, issue tokens."""
        kakao = self._kakao()
        if not state:
            raise LoginFailed("state is missing; start the login again", reason="invalid_state")
        if not cookie_state or not hmac.compare_digest(state.encode(), cookie_state.encode()):
            raise LoginFailed(
                "state does not match this browser's login; start the login again", reason="invalid_state"
            )
        if self.store.take_state(state, self.clock()) is None:
            raise LoginFailed(
                "state is unknown, expired or already used; start the login again", reason="invalid_state"
            )
        if error:
            reason = "access_denied" if error == "access_denied" else "provider_error"
            raise LoginFailed(f"Kakao login was not completed: {error} ({error_description or '-'})", reason=reason)
        if not code:
            raise LoginFailed("authorization code is missing", reason="invalid_code")
        kakao_tokens = kakao.exchange_code(code)
        user = kakao.fetch_user(kakao_tokens.access_token)
        user_id = self.links.resolve(user.id)
        return self.tokens.issue(user_id)

    # --- dev login --------------------------------------------------------------------------
    def _require_dev_login(self) -> UserDirectory:
        if not self.dev_login_enabled:
            raise DevLoginDisabled("dev login is disabled; it needs AUTH_DEV_LOGIN=true (never in prod)")
        if self.users is None:
            raise AuthMisconfigured("dev login needs the user DB", reason="user_db_unavailable")
        return self.users

    def dev_users(self, limit: int = 20) -> list[UserRecord]:
        return self._require_dev_login().sample(min(max(1, limit), DEV_USERS_MAX))

    def dev_login(self, user_id: str) -> TokenPair:
        users = self._require_dev_login()
        if not users.exists(user_id):
            raise LoginFailed(f"no demo user {user_id}; pick one from GET /api/v1/auth/dev-users", reason="unknown_user")
        return self.tokens.issue(user_id)

    # --- tokens -----------------------------------------------------------------------------
    def verify(self, access_token: str) -> Principal:
        return self.tokens.verify_access(access_token)

    def refresh(self, refresh_token: str) -> TokenPair:
        return self.tokens.refresh(refresh_token)

    def logout(self, principal: Principal | None, refresh_token: str | None) -> str:
        """Revoke the caller's session family; either credential is enough. Returns its ``sid``."""
        if principal is not None:  # its refresh tokens belong to the same family: revoked too
            self.tokens.revoke_session(principal.session_id)
            return principal.session_id
        if refresh_token:
            return self.tokens.revoke_by_refresh_token(refresh_token)
        raise InvalidToken("logout needs a valid access token or refresh token", reason="invalid_token")

    def close(self) -> None:
        if self.kakao is not None:
            self.kakao.close()
        self.store.close()
