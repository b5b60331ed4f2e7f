"""What security costs per request: token check, rate-limit hit, redaction, the whole dependency chain.

    python bench/auth_overhead.py [--n 2000] [--redis redis://127.0.0.1:6379/15] [--write bench/RESULTS.md]

Measured (median and p99 of N calls, microseconds):

* ``verify_access`` — signature, claims and the revocation lookup, against the SQLite store and
  (with ``--redis``) the Redis store;
* a rate-limit hit — in-process and Redis (one Lua script round trip);
* ``redact`` — on a typical chat question with PII and on a real product ``rag_text`` (~1 KB);
* a request through FastAPI's TestClient to a route protected by ``rate_limit()`` +
  ``require_self`` vs. the same route unprotected (the difference is the security overhead as
  the API sees it; TestClient itself dominates the absolute numbers).

Redis keys use a unique prefix and are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi import Depends, FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from finray.auth import AuthService, TokenService  # noqa: E402
from finray.auth.store import RedisAuthStore, SQLiteAuthStore  # noqa: E402
from finray.config import load_settings  # noqa: E402
from finray.privacy import redact  # noqa: E402
from finray.ratelimit import BucketPolicy, InProcessRateLimiter, RedisRateLimiter  # noqa: E402
from finray.users.demo import seed_demo_users  # noqa: E402
from serve_apps.security import install_security, rate_limit, require_self  # noqa: E402

KEY = os.urandom(48)
QUESTION = "제 계좌 110-123-456789에 있는 돈으로 12개월 예금 추천해 주세요. 연락처는 010-1234-5678, hong@example.com 입니다."


def timeit(fn: Callable[[], object], n: int) -> tuple[float, float]:
    for _ in range(min(50, n)):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--redis", default=os.environ.get("FINRAY_TEST_REDIS_URL"))
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    rows: list[tuple[str, float, float]] = []
    tmp = Path(tempfile.mkdtemp(prefix="finray-auth-bench-"))

    sqlite_svc = TokenService(KEY, SQLiteAuthStore(tmp / "auth.sqlite"), issuer="i", audience="a")
    token = sqlite_svc.issue("U0000001").access_token
    rows.append(("verify_access (SQLite store)", *timeit(lambda: sqlite_svc.verify_access(token), args.n)))
    prefix = f"finray-bench-{uuid.uuid4().hex[:8]}"
    if args.redis:
        redis_store = RedisAuthStore(args.redis, prefix=prefix)
        redis_svc = TokenService(KEY, redis_store, issuer="i", audience="a")
        rtoken = redis_svc.issue("U0000001").access_token
        rows.append(("verify_access (Redis store)", *timeit(lambda: redis_svc.verify_access(rtoken), args.n)))

    big = BucketPolicy(rate_per_s=1e9, burst=10**9)
    local = InProcessRateLimiter()
    rows.append(("rate-limit hit (in-process)", *timeit(lambda: local.hit("user:U0000001", big), args.n)))
    if args.redis:
        rl = RedisRateLimiter(args.redis, prefix=prefix)
        rows.append(("rate-limit hit (Redis Lua)", *timeit(lambda: rl.hit("user:U0000001", big), args.n)))

    from finray.products.snapshot import load_snapshot

    rag = next(iter(load_snapshot().values())).products[0].rag_text
    rows.append((f"redact chat question ({len(QUESTION)} chars)", *timeit(lambda: redact(QUESTION), args.n)))
    rows.append((f"redact product rag_text ({len(rag)} chars)", *timeit(lambda: redact(rag), args.n)))

    home = tmp / "home"
    users = f"sqlite:///{tmp / 'users.sqlite'}"
    seed_demo_users(users, 10)
    settings = load_settings(FINRAY_HOME=str(home), FINRAY_USER_DB_URL=users,
                             RATE_LIMIT_USER_BURST="100000", RATE_LIMIT_IP_BURST="100000")
    app = FastAPI()
    install_security(app, settings, auth=AuthService.from_settings(settings), redact_logs=False)

    @app.get("/open/{user_id}")
    def open_route(user_id: str) -> dict:
        return {"user_id": user_id}

    @app.get("/protected/{user_id}", dependencies=[Depends(rate_limit())])
    def protected(user_id: str, _p=Depends(require_self)) -> dict:
        return {"user_id": user_id}

    client = TestClient(app)
    headers = {"Authorization": f"Bearer {app.state.auth.tokens.issue('U0000001').access_token}"}
    n_http = max(200, args.n // 4)
    rows.append(("HTTP route, unprotected (TestClient)", *timeit(lambda: client.get("/open/U0000001"), n_http)))
    rows.append(("HTTP route, rate_limit + require_self", *timeit(
        lambda: client.get("/protected/U0000001", headers=headers), n_http)))

    if args.redis:
        import redis

        r = redis.Redis.from_url(args.redis)
        keys = list(r.scan_iter(f"{prefix}*"))
        if keys:
            r.delete(*keys)

    load = os.getloadavg()
    lines = [
        "## Security overhead",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()} with {os.cpu_count()} CPU cores; "
        f"load average at the end {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (shared machine). "
        f"`python bench/auth_overhead.py --n {args.n}{' --redis <db 15>' if args.redis else ''}`; µs per call. "
        "TestClient dominates the HTTP rows; their difference is what the security dependencies add.",
        "",
        "| what | median µs | p99 µs |",
        "|---|---|---|",
        *[f"| {name} | {med:,.0f} | {p99:,.0f} |" for name, med, p99 in rows],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        current = args.write.read_text() if args.write.exists() else "# Benchmark results\n"
        start = current.find("## Security overhead")
        if start >= 0:
            end = current.find("\n## ", start + 1)
            current = current[:start] + (current[end + 1:] if end >= 0 else "")
        args.write.write_text(current.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
