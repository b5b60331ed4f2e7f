"""Our own session tokens: short-lived access JWTs and rotating, single-use refresh tokens.

**Access token** — a JWT (RFC 7519) signed with HS256 and nothing else. Verification pins the
algorithm twice: the header must say exactly ``{"alg": "HS256", "typ": "at+jwt"}`` before PyJWT
is even asked, and PyJWT is called with ``algorithms=["HS256"]``. So ``alg: none`` and the
HS↔RS confusion attack (an RS256 public key abused as an HMAC secret) cannot get a token
accepted. ``iss``, ``aud``, ``sub``, ``iat``, ``nbf``, ``exp``, ``jti`` and ``sid`` are required;
``iss``/``aud`` must match the settings; ``iat``/``nbf``/``exp`` are checked against the service's
clock (injectable, so tests can travel in time) with a few seconds of leeway for replica clock
skew. ``typ: at+jwt`` (RFC 9068) keeps any other JWT we might ever sign from passing as an
access token. Lifetime 15 minutes (``AUTH_ACCESS_TTL_S``).

**Refresh token** — an opaque random string (``frt_`` + 256 bits), stored only as its SHA-256.
Every login starts a *session family* (``sid``). Refreshing consumes the presented token
atomically and issues a new pair in the same family; presenting an already-consumed token is
treated as theft (RFC 9700 §4.14.2, refresh token rotation): the whole family is revoked, which
also invalidates the family's outstanding access tokens, because every access-token check looks
the ``sid`` up in the revocation list. Lifetime 14 days from issue (``AUTH_REFRESH_TTL_S``).

**Logout** revokes the family the same way, so it takes effect at once, not after 15 minutes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import jwt

from finray.auth.errors import InvalidToken, RefreshReuse
from finray.auth.store import AuthStore, RefreshRecord

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "nbf", "exp", "jti", "sid")
MAX_TOKEN_CHARS = 4096
_USER_ID_RE = re.compile(r"^U\d{7}$")
_REFRESH_RE = re.compile(r"^frt_[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the verified content of an access token plus the roles we grant now.

    ``is_admin`` comes from ``AUTH_ADMIN_USER_IDS`` at verification time, not from a claim, so
    removing someone from the allow-list takes effect on their next request.
    """

    user_id: str
    session_id: str
    token_id: str
    expires_at: int
    is_admin: bool = False

    @property
    def roles(self) -> tuple[str, ...]:
        return ("user", "admin") if self.is_admin else ("user",)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user_id: str
    session_id: str


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    """Issues, verifies, rotates and revokes tokens; all session state goes through ``store``."""

    def __init__(
        self,
        key: bytes,
        store: AuthStore,
        *,
        issuer: str,
        audience: str,
        access_ttl_s: int = 900,
        refresh_ttl_s: int = 14 * 86400,
        admin_user_ids: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        leeway_s: int = 5,
    ) -> None:
        if len(key) < 32:
            raise ValueError("signing key must be at least 32 bytes")
        self._key = key
        self.store = store
        self.issuer, self.audience = issuer, audience
        self.access_ttl_s, self.refresh_ttl_s = access_ttl_s, refresh_ttl_s
        self.admin_user_ids = frozenset(admin_user_ids)
        self.clock = clock
        self.leeway_s = leeway_s

    # --- issuing ----------------------------------------------------------------------------
    def issue(self, user_id: str) -> TokenPair:
        """Start a new session family for ``user_id`` (after a successful login)."""
        if not _USER_ID_RE.match(user_id):
            raise ValueError(f"not a finray user id: {user_id!r}")
        return self._pair(user_id, "s_" + secrets.token_urlsafe(16))

    def _pair(self, user_id: str, session_id: str) -> TokenPair:
        now = int(self.clock())
        claims = {
            "iss": self.issuer, "aud": self.audience, "sub": user_id,
            "iat": now, "nbf": now, "exp": now + self.access_ttl_s,
            "jti": secrets.token_urlsafe(12), "sid": session_id,
        }
        access = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})
        refresh = "frt_" + secrets.token_urlsafe(32)
        self.store.add_refresh(
            hash_refresh_token(refresh),
            RefreshRecord(session_id, user_id, float(now), float(now + self.refresh_ttl_s)),
        )
        return TokenPair(access, self.access_ttl_s, refresh, self.refresh_ttl_s, user_id, session_id)

    # --- verifying --------------------------------------------------------------------------
    def verify_access(self, token: str) -> Principal:
        """The :class:`Principal` of a valid access token; :class:`InvalidToken` otherwise."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("access token missing or too long", reason="invalid_token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("access token is not a JWT", reason="invalid_token") from None
        if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
            raise InvalidToken(
                f"access token must be {ALGORITHM} with typ {TOKEN_TYPE}", reason="invalid_token"
            )
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    # time claims are checked below against our (injectable) clock
                    "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise InvalidToken("access token signature is invalid", reason="invalid_token") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("access token audience is wrong", reason="invalid_token") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("access token issuer is wrong", reason="invalid_token") from None
        except jwt.MissingRequiredClaimError as err:
            raise InvalidToken(f"access token lacks the {err.claim!r} claim", reason="invalid_token") from None
        except jwt.InvalidTokenError as err:
            raise InvalidToken(f"access token rejected: {type(err).__name__}", reason="invalid_token") from None
        return self._check_claims(claims)

    def _check_claims(self, claims: dict) -> Principal:
        now = self.clock()
        try:
            iat, nbf, exp = int(claims["iat"]), int(claims["nbf"]), int(claims["exp"])
        except (TypeError, ValueError):
            raise InvalidToken("access token time claims must be integers", reason="invalid_token") from None
        if iat > now + self.leeway_s:
            raise InvalidToken("access token issued in the future", reason="invalid_token")
        if nbf > now + self.leeway_s:
            raise InvalidToken("access token not valid yet (nbf)", reason="invalid_token")
        if exp <= now - self.leeway_s:
            raise InvalidToken("access token expired", reason="token_expired")
        if exp - iat > self.access_ttl_s + self.leeway_s:
            raise InvalidToken("access token lifetime too long", reason="invalid_token")
        sub, sid, jti = claims["sub"], claims["sid"], claims["jti"]
        if not (isinstance(sub, str) and _USER_ID_RE.match(sub)):
            raise InvalidToken("access token subject is not a user id", reason="invalid_token")
        if not (isinstance(sid, str) and isinstance(jti, str)):
            raise InvalidToken("access token sid/jti must be strings", reason="invalid_token")
        if self.store.is_family_revoked(sid, now):
            raise InvalidToken("session was signed out or revoked", reason="token_revoked")
        return Principal(sub, sid, jti, exp, sub in self.admin_user_ids)

    # --- rotating and revoking ------------------------------------------------------------
    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: consume ``refresh_token`` once and issue a new pair in the same family.

        A second use of the same token revokes the family and raises :class:`RefreshReuse`.
        """
        if not refresh_token or not _REFRESH_RE.match(refresh_token):
            raise InvalidToken("refresh token malformed", reason="invalid_token")
        now = self.clock()
        status, record = self.store.consume_refresh(hash_refresh_token(refresh_token), now)
        if status == "unknown" or record is None:
            raise InvalidToken("refresh token unknown or expired", reason="invalid_token")
        if status == "reused":
            self.store.revoke_family(record.family_id, now + self.refresh_ttl_s)
            raise RefreshReuse(
                "refresh token was already used; the session is revoked, sign in again"
            )
        if self.store.is_family_revoked(record.family_id, now):
            raise InvalidToken("session was signed out or revoked", reason="token_revoked")
        if record.expires_at <= now:
            raise InvalidToken("refresh token expired", reason="token_expired")
        return self._pair(record.user_id, record.family_id)

    def revoke_session(self, session_id: str) -> None:
        """Sign out one session family: its refresh and access tokens stop working now."""
        self.store.revoke_family(session_id, self.clock() + self.refresh_ttl_s)

    def revoke_by_refresh_token(self, refresh_token: str) -> str:
        """Logout with only a refresh token (the access token may have expired); returns ``sid``.

        The token is consumed, so it cannot be replayed after logout either.
        """
        if not refresh_token or not _REFRESH_RE.match(refresh_token):
            raise InvalidToken("refresh token malformed", reason="invalid_token")
        now = self.clock()
        _status, record = self.store.consume_refresh(hash_refresh_token(refresh_token), now)
        if record is None:
            raise InvalidToken("refresh token unknown or expired", reason="invalid_token")
        self.revoke_session(record.family_id)
        return record.family_id
