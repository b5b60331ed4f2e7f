"""Shared helpers of the security tests: a settable clock, hand-made JWTs, store factories."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from pathlib import Path

import pytest

from finray.auth.store import AuthStore, RedisAuthStore, SQLiteAuthStore

KEY = b"k" * 8 + os.urandom(40)  # 48 bytes, random per test run
ISSUER, AUDIENCE = "finray-test", "finray-test-api"


class FakeClock:
    """A clock tests move by hand (seconds since the epoch, like time.time)."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft_jwt(header: dict, claims: dict, key: bytes | None = KEY, alg: str = "sha256") -> str:
    """A JWT assembled by hand, so tests can produce what PyJWT refuses to sign."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    sig = hmac.new(key, signing_input.encode(), getattr(hashlib, alg)).digest()
    return f"{signing_input}.{b64url(sig)}"


def good_claims(now: float, **override: object) -> dict:
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": "U0000001", "iat": int(now), "nbf": int(now),
        "exp": int(now) + 900, "jti": "j1", "sid": "s_test",
    }
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


def redis_url() -> str:
    url = os.environ.get("FINRAY_TEST_REDIS_URL")
    if not url:
        pytest.skip("FINRAY_TEST_REDIS_URL not set (Redis tests need redis://127.0.0.1:6379/15)")
    return url


def unique_prefix(kind: str) -> str:
    return f"finray-test-{kind}-{uuid.uuid4().hex[:12]}"


def cleanup_redis(url: str, prefix: str) -> None:
    import redis

    r = redis.Redis.from_url(url)
    keys = list(r.scan_iter(f"{prefix}*"))
    if keys:
        r.delete(*keys)
    r.close()


def make_store(kind: str, tmp_path: Path) -> tuple[AuthStore, object]:
    """``(store, reopen)`` where ``reopen()`` gives a fresh store over the same data (a restart)."""
    if kind == "sqlite":
        path = tmp_path / "auth.sqlite"
        return SQLiteAuthStore(path), lambda: SQLiteAuthStore(path)
    url = redis_url()
    prefix = unique_prefix("auth")
    return RedisAuthStore(url, prefix=prefix), lambda: RedisAuthStore(url, prefix=prefix)
