"""The cache: in-process LRU+TTL, Redis (the one running here), and Redis down.

Redis tests use ``FINRAY_TEST_REDIS_URL`` (db 15) and a key prefix unique to this test run, and
delete their keys afterwards; they skip when the variable is unset.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

import pytest

from finray.cache import InProcessCache, RedisCache, build_cache, cache_key

REDIS_URL = os.environ.get("FINRAY_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="FINRAY_TEST_REDIS_URL not set (e.g. redis://127.0.0.1:6379/15)")


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# --- keys --------------------------------------------------------------------------------------
def test_keys_are_versioned_and_order_insensitive_for_dicts() -> None:
    a = cache_key("riskxpert", "v1", {"q": "기준금리", "months": 12})
    assert a == cache_key("riskxpert", "v1", {"months": 12, "q": "기준금리"})
    assert a.startswith("finray:riskxpert:v1:") and len(a.rsplit(":", 1)[1]) == 40
    assert a != cache_key("riskxpert", "v2", {"q": "기준금리", "months": 12})  # new model version
    assert a != cache_key("riskxpert", "v1", {"q": "기준금리", "months": 6})


# --- in-process ----------------------------------------------------------------------------------
def test_in_process_hit_miss_ttl_and_lru_bound() -> None:
    clock = FakeClock()
    c = InProcessCache(ttl_s=10, max_entries=2, clock=clock)
    assert c.get("a") is None
    c.set("a", b"1")
    c.set("b", b"2", ttl_s=100)
    assert c.get("a") == b"1"  # "a" is now the most recently used
    c.set("c", b"3")  # evicts the least recently used: "b"
    assert c.get("b") is None and c.get("a") == b"1" and c.get("c") == b"3" and len(c) == 2
    clock.t += 10.0  # default TTL reached
    assert c.get("a") is None and c.get("c") is None and len(c) == 0
    assert (c.stats.hits, c.stats.misses, c.stats.sets) == (3, 4, 3)
    c.set("d", b"4")
    c.delete("d")
    assert c.get("d") is None
    with pytest.raises(ValueError):
        InProcessCache(ttl_s=0)


def test_build_cache_follows_settings(make_settings) -> None:
    c = build_cache(make_settings(FINRAY_CACHE_TTL_S="5", FINRAY_CACHE_MAX_ENTRIES="7"))
    assert isinstance(c, InProcessCache) and c.ttl_s == 5.0 and c.max_entries == 7
    r = build_cache(make_settings(REDIS_URL="redis://127.0.0.1:1/15", FINRAY_CACHE_TTL_S="9"))
    assert isinstance(r, RedisCache) and r.ttl_s == 9.0


def test_ttl_setting_is_validated(make_settings) -> None:
    from finray.config import SettingsError

    with pytest.raises(SettingsError, match="FINRAY_CACHE_TTL_S"):
        make_settings(FINRAY_CACHE_TTL_S="0")


# --- Redis here ----------------------------------------------------------------------------------
@pytest.fixture
def redis_prefix():
    prefix = f"finray-test-cache-{uuid.uuid4().hex[:12]}"
    yield prefix
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@needs_redis
def test_redis_hit_miss_ttl_and_version_invalidation(redis_prefix: str) -> None:
    c = RedisCache(REDIS_URL, ttl_s=30)
    k1 = cache_key("riskxpert", "v1", {"q": "x"}, prefix=redis_prefix)
    assert c.get(k1) is None
    c.set(k1, "응답".encode())
    assert c.get(k1) == "응답".encode()
    # a newly published version is a different key: a miss, while v1's entry is untouched
    k2 = cache_key("riskxpert", "v2", {"q": "x"}, prefix=redis_prefix)
    assert c.get(k2) is None and c.get(k1) is not None
    # the TTL is set on the key (milliseconds), and a short one really expires
    import redis

    raw = redis.Redis.from_url(REDIS_URL)
    assert 0 < raw.pttl(k1) <= 30_000
    c.set(k2, b"short", ttl_s=0.2)
    time.sleep(0.35)
    assert c.get(k2) is None
    c.delete(k1)
    assert c.get(k1) is None
    assert c.stats.errors == 0 and c.stats.hits == 2
    raw.close()


@needs_redis
def test_two_clients_share_entries(redis_prefix: str) -> None:
    """Redis is what lets replicas share answers: one replica's set is another's hit."""
    a, b = RedisCache(REDIS_URL), RedisCache(REDIS_URL)
    k = cache_key("riskxpert", "v1", {"q": "shared"}, prefix=redis_prefix)
    a.set(k, b"1")
    assert b.get(k) == b"1"


# --- Redis down ----------------------------------------------------------------------------------
def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there any more
    return port


def test_redis_down_degrades_to_miss_logs_once_and_backs_off(caplog) -> None:
    clock = FakeClock()
    c = RedisCache(f"redis://:secret@127.0.0.1:{_closed_port()}/15", ttl_s=60, retry_after_s=5,
                   log_every_s=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="finray.cache"):
        assert c.get("k") is None  # no exception
        c.set("k", b"v")  # no exception (skipped: backing off)
        assert c.get("k") is None
        assert c.stats.errors == 1  # only the first call tried the dead server
        clock.t += 5.0  # back-off over: tried again, failed again, but not logged again
        assert c.get("k") is None
        c.delete("k")
    assert c.stats.errors == 2
    warnings = [r for r in caplog.records if r.name == "finray.cache"]
    assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
    assert "secret" not in warnings[0].getMessage()  # the password never reaches the log
    clock.t += 61.0
    with caplog.at_level(logging.WARNING, logger="finray.cache"):
        c.get("k")
    assert len([r for r in caplog.records if r.name == "finray.cache"]) == 2  # at most once a minute
