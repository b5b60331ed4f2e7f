"""Accounts for the API: Kakao login, our JWT sessions, account links, dev login.

* :mod:`finray.auth.tokens` — access JWTs (HS256, 15 min) and rotating refresh tokens (14 days).
* :mod:`finray.auth.store` — session state in Redis or an embedded SQLite file.
* :mod:`finray.auth.kakao` — the Kakao OAuth 2.0 authorization-code client.
* :mod:`finray.auth.accounts` — Kakao id → finray user id links (service-side, never the user DB).
* :mod:`finray.auth.service` — the flows (Kakao login, dev login, refresh, logout) in one object.
* :mod:`finray.auth.keys` — where the signing key comes from.

Related, outside this package: :mod:`finray.ratelimit` (token buckets per user/IP),
:mod:`finray.privacy` (PII redaction), :mod:`finray.alerts` (Slack), :mod:`finray.limits`.

Pure domain code: no Ray, no FastAPI (the HTTP side is ``serve_apps/security.py`` and
``serve_apps/routes/auth.py``).
"""

from finray.auth.errors import (
    AuthError,
    AuthMisconfigured,
    DevLoginDisabled,
    Forbidden,
    InvalidToken,
    LoginFailed,
    NotLinked,
    ProviderUnavailable,
    RefreshReuse,
)
from finray.auth.service import AuthService
from finray.auth.tokens import Principal, TokenPair, TokenService

__all__ = [
    "AuthError",
    "AuthMisconfigured",
    "AuthService",
    "DevLoginDisabled",
    "Forbidden",
    "InvalidToken",
    "LoginFailed",
    "NotLinked",
    "Principal",
    "ProviderUnavailable",
    "RefreshReuse",
    "TokenPair",
    "TokenService",
]
