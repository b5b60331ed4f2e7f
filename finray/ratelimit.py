"""Token-bucket rate limiting per user and per client IP, in Redis or in-process.

A bucket holds at most ``burst`` tokens and refills at ``rate_per_s``; a request takes ``cost``
tokens or is refused with the exact time until enough have refilled — which becomes the
``Retry-After`` header of a 429. Token buckets allow short bursts (a page that fires a few calls
at once) while bounding the sustained rate, which is what protects the embedder and the LLM.

* :class:`RedisRateLimiter` — one Lua script per hit, so read-refill-take-write is atomic across
  every replica and pod; the refill uses Redis' own clock (``TIME``), so replica clock skew does
  not matter. Idle buckets expire once they would be full again.
* :class:`InProcessRateLimiter` — the embedded default: exact within one process; with several
  replicas each enforces its own bucket (so the effective limit is ×replicas). Memory is bounded:
  at most ``max_keys`` buckets, least-recently-used evicted.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from finray.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BucketPolicy:
    rate_per_s: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or self.burst < 1:
            raise ValueError("a bucket needs rate_per_s > 0 and burst >= 1")

    @classmethod
    def per_minute(cls, per_min: float, burst: int) -> BucketPolicy:
        return cls(per_min / 60.0, burst)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: float
    retry_after_s: float  # 0 when allowed

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, rounded up (``Retry-After`` takes an integer; never say 0 on a refusal)."""
        return str(max(1, math.ceil(self.retry_after_s)))


class RateLimited(Exception):
    """A bucket is empty; ``retry_after_s`` says when the request would be allowed."""

    def __init__(self, scope: str, decision: Decision) -> None:
        super().__init__(f"rate limit exceeded for {scope}; retry after {decision.retry_after_header} s")
        self.scope = scope
        self.decision = decision

    @property
    def retry_after_s(self) -> float:
        return self.decision.retry_after_s


class RateLimiter(Protocol):
    def hit(self, key: str, policy: BucketPolicy, cost: float = 1.0) -> Decision: ...


def _check_cost(policy: BucketPolicy, cost: float) -> None:
    if not 0 < cost <= policy.burst:
        raise ValueError(f"cost {cost} must be in (0, burst={policy.burst}]")


class InProcessRateLimiter:
    """Buckets in a dict guarded by a lock; bounded by LRU eviction."""

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_keys = max_keys
        self._clock = clock

    def hit(self, key: str, policy: BucketPolicy, cost: float = 1.0) -> Decision:
        _check_cost(policy, cost)
        with self._lock:
            now = self._clock()
            tokens, ts = self._buckets.pop(key, (float(policy.burst), now))
            tokens = min(float(policy.burst), tokens + max(0.0, now - ts) * policy.rate_per_s)
            if tokens >= cost:
                tokens -= cost
                decision = Decision(True, tokens, 0.0)
            else:
                decision = Decision(False, tokens, (cost - tokens) / policy.rate_per_s)
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return decision


# KEYS[1] bucket; ARGV rate_per_s, burst, cost. Returns {allowed, remaining, retry_after} as
# strings (Lua numbers would be truncated to integers on the way out).
_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {tostring(allowed), tostring(tokens), tostring(retry)}
"""


class RedisRateLimiter:
    """Buckets as Redis hashes under ``prefix``; one atomic Lua script per hit.

    If Redis cannot be reached the request is allowed and a warning logged (``fail_open``): a
    cache outage should degrade protection, not take the whole API down with it.
    """

    def __init__(self, url: str, prefix: str = "finray:rl", *, fail_open: bool = True) -> None:
        import redis

        self.prefix = prefix
        self.fail_open = fail_open
        self._errors = redis.RedisError
        self._r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2.0)
        self._script = self._r.register_script(_BUCKET_LUA)

    def hit(self, key: str, policy: BucketPolicy, cost: float = 1.0) -> Decision:
        _check_cost(policy, cost)
        try:
            allowed, remaining, retry = self._script(
                keys=[f"{self.prefix}:{key}"], args=[repr(policy.rate_per_s), policy.burst, repr(float(cost))]
            )
        except self._errors as err:
            if not self.fail_open:
                raise
            log.warning("rate limiter: Redis unavailable (%s); request allowed", type(err).__name__)
            return Decision(True, 0.0, 0.0)
        return Decision(allowed == "1", float(remaining), float(retry))

    def close(self) -> None:
        self._r.close()


@dataclass(frozen=True)
class RatePolicies:
    """The two buckets every API request is charged against."""

    per_user: BucketPolicy
    per_ip: BucketPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> RatePolicies:
        return cls(
            per_user=BucketPolicy.per_minute(settings.rate_limit_user_per_min, settings.rate_limit_user_burst),
            per_ip=BucketPolicy.per_minute(settings.rate_limit_ip_per_min, settings.rate_limit_ip_burst),
        )


def open_rate_limiter(settings: Settings) -> RateLimiter:
    """Redis when ``REDIS_URL`` is set (shared by all replicas), else in-process."""
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url)
    return InProcessRateLimiter()
