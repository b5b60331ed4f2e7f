"""Where sessions live: OAuth ``state``, refresh tokens, revoked session families, account links.

Two backends behind one small contract (:class:`AuthStore`), chosen like the rest of finray:

* **Redis** when ``REDIS_URL`` is set — shared by every Serve replica and pod; every entry has a
  TTL so nothing accumulates. Needs Redis ≥ 6.2 (``GETDEL``) and, in production, persistence
  (AOF or RDB) so revocations and account links survive a Redis restart.
* **SQLite** file ``$FINRAY_HOME/auth.sqlite`` otherwise — survives a service restart and is
  shared by the replicas of one machine (WAL mode, busy timeout). It is *not* shared between
  machines: a multi-pod deployment must set ``REDIS_URL``.

MongoDB (``FINRAY_STORE=mongo``) is deliberately not a third backend: it would need its own
atomic find-and-modify paths and TTL indexes, and every deployment that runs Atlas here also
runs Redis for the cache. One shared store less is one consistency story less.

Design points that the security properties rest on:

* Refresh tokens are stored only as SHA-256 hashes; a leaked store holds no usable token.
* :meth:`AuthStore.consume_refresh` is atomic (one conditional ``UPDATE`` / one Lua script):
  of two concurrent uses of the same token exactly one sees ``"ok"``; the other sees
  ``"reused"`` — which revokes the family, the standard (strict) rotation rule.
* :meth:`AuthStore.take_state` deletes and returns in one step, so a ``state`` works once.
* Every method takes ``now`` from the caller's clock, so expiry logic is testable and the same on
  both backends; Redis TTLs are only garbage collection.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from finray.config import Settings

ConsumeStatus = Literal["ok", "reused", "unknown"]


@dataclass(frozen=True)
class RefreshRecord:
    """One issued refresh token (by hash): its session family, owner and lifetime."""

    family_id: str
    user_id: str
    issued_at: float
    expires_at: float


class AuthStore(Protocol):
    """The operations the token service and the login flow need; all atomic where it matters."""

    def put_state(self, state: str, payload: dict[str, Any], expires_at: float) -> None: ...

    def take_state(self, state: str, now: float) -> dict[str, Any] | None:
        """Delete ``state`` and return its payload; ``None`` if unknown, used or expired."""

    def add_refresh(self, token_hash: str, record: RefreshRecord) -> None: ...

    def consume_refresh(self, token_hash: str, now: float) -> tuple[ConsumeStatus, RefreshRecord | None]:
        """Mark the token used; ``"reused"`` if it already was, ``"unknown"`` if never issued."""

    def revoke_family(self, family_id: str, until: float) -> None: ...

    def is_family_revoked(self, family_id: str, now: float) -> bool: ...

    def get_link(self, provider: str, subject: str) -> str | None: ...

    def set_link(self, provider: str, subject: str, user_id: str, now: float) -> None: ...

    def delete_link(self, provider: str, subject: str) -> bool: ...

    def close(self) -> None: ...


class AuthStoreError(RuntimeError):
    """The auth store cannot be used; the message names the setting to check, on one line."""


# --------------------------------------------------------------------------------------------
# SQLite
# --------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth_states (
    state TEXT PRIMARY KEY, payload TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash TEXT PRIMARY KEY, family_id TEXT NOT NULL, user_id TEXT NOT NULL,
    issued_at REAL NOT NULL, expires_at REAL NOT NULL, used_at REAL);
CREATE INDEX IF NOT EXISTS ix_refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE TABLE IF NOT EXISTS revoked_families (family_id TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS account_links (
    provider TEXT NOT NULL, subject TEXT NOT NULL, user_id TEXT NOT NULL, linked_at REAL NOT NULL,
    PRIMARY KEY (provider, subject));
"""

# Expired rows are swept on write, at most this often, so the file stays small without a cron.
_SWEEP_EVERY_S = 300.0


class SQLiteAuthStore:
    """The embedded store: one SQLite file, safe for threads (a lock) and processes (WAL)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():  # session state: readable by the service account only
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._conn = sqlite3.connect(
                str(self.path), timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise AuthStoreError(f"FINRAY_HOME: cannot open auth store {self.path}: {err}") from None
        self._lock = threading.Lock()
        self._last_sweep = 0.0

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < _SWEEP_EVERY_S:
            return
        self._last_sweep = now
        with self._lock:
            self._conn.execute("DELETE FROM oauth_states WHERE expires_at <= ?", (now,))
            self._conn.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?", (now,))
            self._conn.execute("DELETE FROM revoked_families WHERE until <= ?", (now,))

    def put_state(self, state: str, payload: dict[str, Any], expires_at: float) -> None:
        self._exec(
            "INSERT INTO oauth_states (state, payload, expires_at) VALUES (?, ?, ?)",
            (state, json.dumps(payload), expires_at),
        )

    def take_state(self, state: str, now: float) -> dict[str, Any] | None:
        row = self._exec(
            "DELETE FROM oauth_states WHERE state = ? RETURNING payload, expires_at", (state,)
        ).fetchone()
        self._sweep(now)
        if row is None or row[1] <= now:
            return None
        return json.loads(row[0])

    def add_refresh(self, token_hash: str, record: RefreshRecord) -> None:
        self._exec(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (token_hash, record.family_id, record.user_id, record.issued_at, record.expires_at),
        )
        self._sweep(record.issued_at)

    def consume_refresh(self, token_hash: str, now: float) -> tuple[ConsumeStatus, RefreshRecord | None]:
        with self._lock:
            row = self._conn.execute(
                "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL"
                " RETURNING family_id, user_id, issued_at, expires_at",
                (now, token_hash),
            ).fetchone()
            if row is not None:
                return "ok", RefreshRecord(*row)
            row = self._conn.execute(
                "SELECT family_id, user_id, issued_at, expires_at FROM refresh_tokens"
                " WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
        return ("reused", RefreshRecord(*row)) if row else ("unknown", None)

    def revoke_family(self, family_id: str, until: float) -> None:
        self._exec(
            "INSERT INTO revoked_families (family_id, until) VALUES (?, ?)"
            " ON CONFLICT (family_id) DO UPDATE SET until = max(until, excluded.until)",
            (family_id, until),
        )

    def is_family_revoked(self, family_id: str, now: float) -> bool:
        row = self._exec(
            "SELECT until FROM revoked_families WHERE family_id = ?", (family_id,)
        ).fetchone()
        return row is not None and row[0] > now

    def get_link(self, provider: str, subject: str) -> str | None:
        row = self._exec(
            "SELECT user_id FROM account_links WHERE provider = ? AND subject = ?", (provider, subject)
        ).fetchone()
        return row[0] if row else None

    def set_link(self, provider: str, subject: str, user_id: str, now: float) -> None:
        self._exec(
            "INSERT INTO account_links (provider, subject, user_id, linked_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (provider, subject) DO UPDATE SET user_id = excluded.user_id,"
            " linked_at = excluded.linked_at",
            (provider, subject, user_id, now),
        )

    def delete_link(self, provider: str, subject: str) -> bool:
        cur = self._exec(
            "DELETE FROM account_links WHERE provider = ? AND subject = ?", (provider, subject)
        )
        return cur.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------

# KEYS[1] = refresh key; ARGV[1] = now. Returns {status, family, user, issued_at, expires_at}
# with status 1 = ok (now marked used), 2 = reused, 0 = unknown. One script = one atomic step.
_CONSUME_LUA = """
local v = redis.call('HMGET', KEYS[1], 'family_id', 'user_id', 'issued_at', 'expires_at', 'used_at')
if not v[1] then return {0} end
if v[5] then return {2, v[1], v[2], v[3], v[4]} end
redis.call('HSET', KEYS[1], 'used_at', ARGV[1])
return {1, v[1], v[2], v[3], v[4]}
"""


def _ttl_ms(until: float) -> int:
    """A Redis TTL reaching ``until`` (wall clock), at least one second."""
    return max(1000, math.ceil((until - time.time()) * 1000))


class RedisAuthStore:
    """The shared store: Redis keys under ``prefix`` with TTLs; atomic via GETDEL and Lua."""

    def __init__(self, url: str, prefix: str = "finray:auth") -> None:
        import redis

        self.prefix = prefix
        try:
            self._r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5.0)
            self._r.ping()
        except redis.RedisError as err:
            host = url.split("@")[-1]
            raise AuthStoreError(f"REDIS_URL: cannot reach Redis at {host}: {err}") from None
        self._consume = self._r.register_script(_CONSUME_LUA)

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def put_state(self, state: str, payload: dict[str, Any], expires_at: float) -> None:
        value = json.dumps({"payload": payload, "expires_at": expires_at})
        self._r.set(self._k("state", state), value, px=_ttl_ms(expires_at))

    def take_state(self, state: str, now: float) -> dict[str, Any] | None:
        raw = self._r.getdel(self._k("state", state))
        if raw is None:
            return None
        data = json.loads(raw)
        return data["payload"] if data["expires_at"] > now else None

    def add_refresh(self, token_hash: str, record: RefreshRecord) -> None:
        key = self._k("rt", token_hash)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={
            "family_id": record.family_id, "user_id": record.user_id,
            "issued_at": repr(record.issued_at), "expires_at": repr(record.expires_at),
        })
        pipe.pexpire(key, _ttl_ms(record.expires_at))
        pipe.execute()

    def consume_refresh(self, token_hash: str, now: float) -> tuple[ConsumeStatus, RefreshRecord | None]:
        out = self._consume(keys=[self._k("rt", token_hash)], args=[repr(now)])
        if not out or int(out[0]) == 0:
            return "unknown", None
        record = RefreshRecord(out[1], out[2], float(out[3]), float(out[4]))
        return ("ok" if int(out[0]) == 1 else "reused"), record

    def revoke_family(self, family_id: str, until: float) -> None:
        key = self._k("revoked", family_id)
        current = self._r.get(key)
        if current is not None and float(current) >= until:
            return
        self._r.set(key, repr(until), px=_ttl_ms(until))

    def is_family_revoked(self, family_id: str, now: float) -> bool:
        until = self._r.get(self._k("revoked", family_id))
        return until is not None and float(until) > now

    def get_link(self, provider: str, subject: str) -> str | None:
        return self._r.hget(self._k("links", provider), subject)

    def set_link(self, provider: str, subject: str, user_id: str, now: float) -> None:
        self._r.hset(self._k("links", provider), subject, user_id)

    def delete_link(self, provider: str, subject: str) -> bool:
        return bool(self._r.hdel(self._k("links", provider), subject))

    def close(self) -> None:
        self._r.close()


def open_auth_store(settings: Settings) -> AuthStore:
    """Redis when ``REDIS_URL`` is set, else the SQLite file under ``FINRAY_HOME``."""
    if settings.redis_url:
        return RedisAuthStore(settings.redis_url)
    return SQLiteAuthStore(Path(settings.home) / "auth.sqlite")
