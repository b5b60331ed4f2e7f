"""What can go wrong when someone signs in or presents a token.

Each error carries a machine-readable ``reason`` (stable, for clients and tests) and a message
for a person. The HTTP layer maps the *class* to a status: :class:`InvalidToken` → 401,
:class:`Forbidden`/:class:`NotLinked`/:class:`DevLoginDisabled` → 403, :class:`LoginFailed` → 400,
:class:`ProviderUnavailable` → 502, :class:`AuthMisconfigured` → 500/503. The domain never
imports HTTP code.
"""

from __future__ import annotations


class AuthError(Exception):
    """Base class; ``reason`` is a stable snake_case code, ``str(err)`` says what was wrong."""

    reason = "auth_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason:
            self.reason = reason


class InvalidToken(AuthError):
    """The presented access or refresh token is missing, malformed, expired or revoked (401)."""

    reason = "invalid_token"


class RefreshReuse(InvalidToken):
    """A refresh token was presented a second time; its whole session family is now revoked."""

    reason = "refresh_token_reused"


class Forbidden(AuthError):
    """Authenticated, but not allowed to touch this resource (403)."""

    reason = "forbidden"


class NotLinked(Forbidden):
    """The Kakao account is not linked to any finray customer (403)."""

    reason = "account_not_linked"


class DevLoginDisabled(Forbidden):
    """Dev login was asked for while ``AUTH_DEV_LOGIN`` is off (403)."""

    reason = "dev_login_disabled"


class LoginFailed(AuthError):
    """The login attempt itself is bad: unknown/used ``state``, bad or expired code, denied (400)."""

    reason = "login_failed"


class ProviderUnavailable(AuthError):
    """Kakao could not be reached or answered with a server error / unusable body (502)."""

    reason = "provider_unavailable"


class AuthMisconfigured(AuthError):
    """Our side is set up wrong (redirect URI or client credentials rejected by Kakao) (500)."""

    reason = "auth_misconfigured"
