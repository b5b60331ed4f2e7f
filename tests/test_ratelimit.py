"""Token buckets: burst, refill, Retry-After, bounds; in-process and against Redis."""

from __future__ import annotations

import os
import threading
import time

import pytest

from finray.ratelimit import (
    BucketPolicy,
    Decision,
    InProcessRateLimiter,
    RateLimited,
    RatePolicies,
    RedisRateLimiter,
    open_rate_limiter,
)
from tests.security_support import FakeClock, cleanup_redis, redis_url, unique_prefix


def test_burst_then_refusal_with_exact_retry_after():
    clock = FakeClock()
    rl = InProcessRateLimiter(clock=clock)
    policy = BucketPolicy.per_minute(60, burst=3)  # 1 token / s
    assert [rl.hit("u", policy).allowed for _ in range(3)] == [True, True, True]
    refused = rl.hit("u", policy)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(1.0)
    assert refused.retry_after_header == "1"
    clock.advance(0.5)
    assert rl.hit("u", policy).retry_after_s == pytest.approx(0.5)
    clock.advance(0.5)
    assert rl.hit("u", policy).allowed
    clock.advance(100)  # refills to burst, not beyond
    assert [rl.hit("u", policy).allowed for _ in range(4)] == [True, True, True, False]


def test_buckets_are_per_key_and_cost_counts():
    clock = FakeClock()
    rl = InProcessRateLimiter(clock=clock)
    policy = BucketPolicy(rate_per_s=0.1, burst=10)
    assert rl.hit("a", policy, cost=8).allowed
    d = rl.hit("a", policy, cost=5)
    assert not d.allowed and d.retry_after_s == pytest.approx(30.0)  # need 3 more at 0.1/s
    assert d.retry_after_header == "30"
    assert rl.hit("b", policy, cost=10).allowed


def test_retry_after_header_rounds_up_and_is_never_zero():
    assert Decision(False, 0.0, 0.01).retry_after_header == "1"
    assert Decision(False, 0.0, 2.2).retry_after_header == "3"


def test_invalid_policy_and_cost():
    with pytest.raises(ValueError):
        BucketPolicy(0, 1)
    with pytest.raises(ValueError, match="cost"):
        InProcessRateLimiter().hit("k", BucketPolicy(1, 2), cost=3)


def test_memory_is_bounded():
    rl = InProcessRateLimiter(max_keys=100)
    policy = BucketPolicy(1, 1)
    for i in range(1000):
        rl.hit(f"ip:{i}", policy)
    assert len(rl._buckets) == 100


def test_rate_limited_exception_carries_retry_after():
    err = RateLimited("user", Decision(False, 0.2, 4.5))
    assert err.retry_after_s == 4.5 and "retry after 5 s" in str(err)


def test_policies_and_backend_from_settings(make_settings):
    s = make_settings(RATE_LIMIT_USER_PER_MIN="30", RATE_LIMIT_USER_BURST="5")
    p = RatePolicies.from_settings(s)
    assert p.per_user == BucketPolicy(0.5, 5) and p.per_ip == BucketPolicy(2.0, 60)
    assert isinstance(open_rate_limiter(s), InProcessRateLimiter)


def test_in_process_is_exact_under_threads():
    rl = InProcessRateLimiter()
    policy = BucketPolicy(rate_per_s=0.001, burst=50)
    allowed = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(25):
            allowed.append(rl.hit("shared", policy).allowed)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 50


@pytest.fixture
def redis_limiter():
    url = redis_url()
    prefix = unique_prefix("rl")
    rl = RedisRateLimiter(url, prefix=prefix)
    yield rl
    rl.close()
    cleanup_redis(url, prefix)


def test_redis_burst_refusal_and_retry_after(redis_limiter):
    policy = BucketPolicy.per_minute(6, burst=2)  # 0.1 token / s
    assert redis_limiter.hit("user:U1", policy).allowed
    assert redis_limiter.hit("user:U1", policy).allowed
    refused = redis_limiter.hit("user:U1", policy)
    assert not refused.allowed
    assert 9.0 < refused.retry_after_s <= 10.0
    assert refused.retry_after_header == "10"
    assert redis_limiter.hit("user:U2", policy).allowed  # another key, another bucket


def test_redis_refills_with_server_time(redis_limiter):
    policy = BucketPolicy(rate_per_s=20.0, burst=1)
    assert redis_limiter.hit("k", policy).allowed
    assert not redis_limiter.hit("k", policy).allowed
    time.sleep(0.1)  # 2 tokens' worth at 20/s: the bucket is full (1) again
    assert redis_limiter.hit("k", policy).allowed


def test_redis_is_atomic_across_clients(redis_limiter):
    """Two limiter objects (like two replicas) hammering one bucket: exactly `burst` pass."""
    url = os.environ["FINRAY_TEST_REDIS_URL"]
    other = RedisRateLimiter(url, prefix=redis_limiter.prefix)
    policy = BucketPolicy(rate_per_s=0.001, burst=40)
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker(rl: RedisRateLimiter) -> None:
        for _ in range(20):
            ok = rl.hit("shared", policy).allowed
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=worker, args=(rl,)) for rl in (redis_limiter, other) * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert len(allowed) == 120 and sum(allowed) == 40


def test_redis_keys_expire_when_idle(redis_limiter):
    import redis

    redis_limiter.hit("idle", BucketPolicy(rate_per_s=10.0, burst=5))
    r = redis.Redis.from_url(os.environ["FINRAY_TEST_REDIS_URL"])
    ttl_ms = r.pttl(f"{redis_limiter.prefix}:idle")
    r.close()
    assert 0 < ttl_ms <= 1100 + 100  # refill time of one token (100 ms) + 1 s margin


def test_redis_down_fails_open_and_logs(caplog):
    rl = RedisRateLimiter("redis://127.0.0.1:1/0")
    with caplog.at_level("WARNING"):
        assert rl.hit("k", BucketPolicy(1, 1)).allowed
    assert "Redis unavailable" in caplog.text
    strict = RedisRateLimiter("redis://127.0.0.1:1/0", fail_open=False)
    with pytest.raises(Exception):
        strict.hit("k", BucketPolicy(1, 1))
