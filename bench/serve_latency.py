"""Serve latency benchmark: closed-loop load on loopback, and the same pipeline in-process.

One run measures, on the embedded defaults (LanceDB, SQLite demo users, offline e5, offline
generator) of an already-filled FINRAY_HOME (``make jobs``):

1. **Under load** — 16 concurrent clients in a closed loop (each sends its next request when the
   previous answer has fully arrived), ≥ 30 s per endpoint after a short warm-up:
   ``GET /api/v1/recommendations/{user}``, ``GET /api/v1/products/search`` (hybrid) and
   ``POST /api/v1/chat/stream`` (SSE; time to the first ``delta`` event = first token).
   p50/p95/p99 latency, throughput, errors.
2. **Serve overhead** — requests one at a time, alternating between Serve and the same pipeline
   called in this process without Serve (``AdvisorService`` with ``LocalSources``: same graph,
   same in-memory index, same store, same e5 model) with the same inputs; overhead = Serve p50 −
   in-process p50. Alternating makes both see the same background load; concurrency 1 keeps
   queueing (which any server adds under load) out of the per-request overhead.

Requests are varied so caches do not flatter the numbers: users are drawn at random from the
user DB; questions and search texts are generated from templates × product kinds × terms ×
amounts (thousands of distinct texts; the share of repeats is reported — a repeat hits the
QueryEmbedder's vector memo).

Clients authenticate like real ones: before any clock starts, every simulated user (``--users``)
signs in once through ``POST /api/v1/auth/dev-login`` and every request carries that user's
``Authorization: Bearer`` token — so the Serve figures include verifying the token (signature,
claims, revocation check) and the rate-limit buckets, which the in-process pipeline does not do.
Tokens that would expire during a phase are refreshed (``/api/v1/auth/refresh``) before that
phase's clock starts, never during it. The Serve started here has dev login on and rate limits
the load never reaches (16 clients share one loopback IP; the limiter still runs on every
request). With ``--url`` the deployment must allow the same: ``AUTH_DEV_LOGIN=true`` (``make up``
sets it) and per-IP/per-user limits above the load, e.g. ``RATE_LIMIT_IP_PER_MIN=100000
RATE_LIMIT_IP_BURST=100000 RATE_LIMIT_USER_PER_MIN=100000 RATE_LIMIT_USER_BURST=10000`` in the
environment ``ray start`` runs in; otherwise the run stops with the server's 403/429.

Usage::

    FINRAY_HOME=var .venv/bin/python bench/serve_latency.py               # starts local Ray + Serve
    .venv/bin/python bench/serve_latency.py --url http://127.0.0.1:8000   # an existing deployment
    ... --results bench/RESULTS.md   # replace the "Serve latency" section with this run
    ... --duration 3 --warmup 1 --serial 5 --users 50   # a smoke run (seconds): does everything work?

Targets (issue 4, 2-core machine): recommendations p99 ≤ 250 ms at 16 concurrent; chat first
token p95 ≤ 400 ms (offline generator); Serve overhead vs in-process ≤ 15 ms at p50.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import run_app  # noqa: E402

CONCURRENCY = 16
SECTION = "## Serve latency"

KINDS = ["정기예금", "적금", "연금저축", "펀드", "채권형 펀드", "배당주 펀드", "신용대출", "예금"]
TERMS = ["6개월", "12개월", "24개월", "36개월", "1년", "2년", "3년"]
AMOUNTS = ["100만원", "300만원", "500만원", "1,000만원", "3,000만원", "5,000만원", "1억원", "매달 50만원", "매달 30만원"]
ASKS = [
    "{amount}을 {term} 동안 넣을 {kind} 추천해 주세요",
    "{term} {kind} 중에 금리가 높은 상품이 뭐가 있나요?",
    "{amount} 정도로 시작할 수 있는 {kind} 알려 주세요",
    "노후 준비용으로 {kind} 괜찮은 것 있을까요? {term} 생각하고 있어요",
    "{kind} 상품 비교해 주세요. 기간은 {term}, 금액은 {amount}입니다",
    "안정적인 {kind}로 {amount} 굴리고 싶어요",
    "{mod} {kind} 중에서 {term} 상품 있나요? {amount} 생각 중입니다",
]
SEARCHES = [
    "{mod} {kind} {term}", "{term} {kind} 금리 {mod}", "{kind} 우대금리 {mod}", "{amount} {mod} {kind}",
    "{mod} {kind} 추천 {term}", "{kind} {amount} {term}",
]
MODS = ["비대면", "모바일", "청년", "고금리", "우대", "단리", "복리", "자유적립", "정액적립", "세제혜택", "원금보장",
        "인터넷", "주거래", "급여이체", "신규고객", "특판", "월복리", "노후", "목돈", "안정형"]


def texts(templates: Sequence[str], rng: random.Random, n: int) -> list[str]:
    return [
        rng.choice(templates).format(
            kind=rng.choice(KINDS), term=rng.choice(TERMS), amount=rng.choice(AMOUNTS), mod=rng.choice(MODS)
        )
        for _ in range(n)
    ]


def repeat_share(seq: Sequence[str]) -> float:
    return 1 - len(set(seq)) / len(seq) if seq else 0.0


def pct(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


@dataclass
class Run:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    first_token_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    error_samples: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)  # texts sent (for the repeat share)
    load: list[float] = field(default_factory=list)  # 1-min load average sampled during the run
    replicas: str = ""  # running replicas per deployment at the end of the run (when Serve is local)

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        lat = self.latencies_ms
        ft = self.first_token_ms
        first = f"{pct(ft, 50):.0f} / {pct(ft, 95):.0f} / {pct(ft, 99):.0f}" if ft else "—"
        load = f"{sum(self.load) / len(self.load):.1f}" if self.load else "—"
        return (
            f"| {self.name} | {len(lat)} | {self.errors} | {self.throughput:.1f} | {pct(lat, 50):.0f} | "
            f"{pct(lat, 95):.0f} | {pct(lat, 99):.0f} | {first} | {load} |"
            + (f" {self.replicas} |" if self.replicas else "")
        )


def replica_counts() -> str:
    """``Ingress 1, Advisor 2, …`` from the local Serve controller ("" when Serve is remote)."""
    try:
        import ray
        from ray import serve

        if not ray.is_initialized():
            return ""
        out = []
        for app in serve.status().applications.values():
            for name, dep in app.deployments.items():
                running = dep.replica_states.get("RUNNING", 0)
                out.append(f"{name} {running}")
        return ", ".join(out)
    except Exception:  # noqa: BLE001 - informational only
        return ""


class LoadSampler:
    """Samples the 1-minute load average every 2 s into the runs being measured."""

    def __init__(self) -> None:
        self.targets: list[Run] = []
        self._stop = False
        import threading

        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            value = os.getloadavg()[0]
            for run in list(self.targets):
                run.load.append(value)
            time.sleep(2)

    def stop(self) -> None:
        self._stop = True


SAMPLER: LoadSampler | None = None


# --------------------------------------------------------------------------------------------
# authentication: one sign-in per simulated user, before any clock
# --------------------------------------------------------------------------------------------
class AuthError(RuntimeError):
    """The deployment did not hand out tokens (dev login off, rate-limited, …): the message says why."""


@dataclass
class Session:
    access_token: str
    refresh_token: str
    expires_at: float  # time.monotonic() when the access token expires


class Tokens:
    """Access tokens of the simulated users, got through the real auth routes."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.sessions: dict[str, Session] = {}
        self.logins = 0
        self.refreshes = 0

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sessions[user].access_token}"}

    @staticmethod
    def _session(r: httpx.Response, what: str) -> Session:
        if r.status_code != 200:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            hint = {403: " (is AUTH_DEV_LOGIN=true on the deployment?)",
                    429: " (raise the deployment's RATE_LIMIT_IP_* / RATE_LIMIT_USER_* for a benchmark)"}
            raise AuthError(f"{what}: HTTP {r.status_code}: {str(detail)[:200]}{hint.get(r.status_code, '')}")
        body = r.json()
        return Session(body["access_token"], body["refresh_token"], time.monotonic() + body["expires_in"])

    async def sign_in(self, users: Sequence[str], parallel: int = 8) -> None:
        """Dev-login every user not signed in yet (``parallel`` at a time)."""
        todo = [u for u in dict.fromkeys(users) if u not in self.sessions]
        gate = asyncio.Semaphore(parallel)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60) as client:
            async def one(user: str) -> None:
                async with gate:
                    r = await client.post("/api/v1/auth/dev-login", json={"user_id": user})
                self.sessions[user] = self._session(r, f"dev login as {user}")
                self.logins += 1

            await asyncio.gather(*(one(u) for u in todo))

    async def fresh_for(self, seconds: float, parallel: int = 8) -> None:
        """Refresh (rotate) every token that would expire within ``seconds`` — between phases."""
        deadline = time.monotonic() + seconds
        stale = [u for u, s in self.sessions.items() if s.expires_at <= deadline]
        if not stale:
            return
        gate = asyncio.Semaphore(parallel)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60) as client:
            async def one(user: str) -> None:
                async with gate:
                    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": self.sessions[user].refresh_token})
                self.sessions[user] = self._session(r, f"token refresh for {user}")
                self.refreshes += 1

            await asyncio.gather(*(one(u) for u in stale))


# --------------------------------------------------------------------------------------------
# HTTP requests (one call = one request, fully read)
# --------------------------------------------------------------------------------------------
async def recommend(client: httpx.AsyncClient, run: Run, rng: random.Random, users: Sequence[str], tokens: Tokens) -> None:
    user = rng.choice(users)
    params: dict[str, Any] = {"k": 5}
    if rng.random() < 0.3:
        params["type"] = rng.choice(["deposit", "saving", "fund"])
    r = await client.get(f"/api/v1/recommendations/{user}", params=params, headers=tokens.headers(user))
    r.raise_for_status()
    if not r.json()["items"] and params.get("type") is None:
        raise RuntimeError("empty recommendation")


async def search(
    client: httpx.AsyncClient, run: Run, rng: random.Random, queries: Sequence[str], users: Sequence[str], tokens: Tokens,
) -> None:
    q = rng.choice(queries)
    run.sent.append(q)
    r = await client.get("/api/v1/products/search", params={"q": q, "k": 10}, headers=tokens.headers(rng.choice(users)))
    r.raise_for_status()


async def chat(
    client: httpx.AsyncClient, run: Run, rng: random.Random, users: Sequence[str], questions: Sequence[str],
    tokens: Tokens, started: float,
) -> None:
    q = rng.choice(questions)
    run.sent.append(q)
    user = rng.choice(users)
    body = {"user_id": user, "question": q, "k": 3}
    first: float | None = None
    done = False
    async with client.stream("POST", "/api/v1/chat/stream", json=body, headers=tokens.headers(user)) as r:
        r.raise_for_status()
        buffer = ""
        async for chunk in r.aiter_text():
            buffer += chunk
            if first is None and "event: delta" in buffer:
                first = time.perf_counter()
            if "event: done" in buffer:
                done = True
    if first is None or not done:
        raise RuntimeError("stream ended without text or done event")
    run.first_token_ms.append((first - started) * 1000)


async def closed_loop(
    base_url: str, name: str, call: Callable[..., Awaitable[None]], duration_s: float, concurrency: int,
    seed: int, warmup_s: float = 5.0, **kw: Any,
) -> Run:
    run = Run(name)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        async def worker(i: int, until: float, record: bool) -> None:
            rng = random.Random(seed * 1000 + i + (0 if record else 500))
            while time.perf_counter() < until:
                t = time.perf_counter()
                try:
                    if call is chat:
                        await call(client, run if record else Run("warmup"), rng, started=t, **kw)
                    else:
                        await call(client, run if record else Run("warmup"), rng, **kw)
                except Exception as err:  # noqa: BLE001 - count it, keep the loop closed
                    if record:
                        run.errors += 1
                        if len(run.error_samples) < 3:
                            run.error_samples.append(f"{type(err).__name__}: {str(err)[:120]}")
                    continue
                if record:
                    run.latencies_ms.append((time.perf_counter() - t) * 1000)

        if warmup_s > 0:
            until = time.perf_counter() + warmup_s
            await asyncio.gather(*(worker(i, until, False) for i in range(concurrency)))
        start = time.perf_counter()
        if SAMPLER is not None:
            SAMPLER.targets = [run]
        await asyncio.gather(*(worker(i, start + duration_s, True) for i in range(concurrency)))
        run.seconds = time.perf_counter() - start
        run.replicas = replica_counts()
    return run


# --------------------------------------------------------------------------------------------
# in-process: the same pipeline without Serve
# --------------------------------------------------------------------------------------------
class LocalPipeline:
    """The same pipeline as the Serve app, called in this process (no Serve, no HTTP)."""

    def __init__(self, home: str) -> None:
        from finray.agent.service import AdvisorService
        from finray.agent.sources import LocalSources
        from finray.config import load_settings
        from finray.embeddings.factory import build_embedder
        from finray.retrieval.memory_index import LiveIndex
        from finray.stores.factory import open_store
        from finray.users.db import create_readonly_engine

        settings = load_settings(FINRAY_HOME=home)
        self.store = open_store(settings)
        self.embedder = build_embedder(settings, num_threads=1)
        self.catalogue = LiveIndex(self.store, start_thread=False, tokenizer=settings.keyword_tokenizer)
        sources = LocalSources(self.store, create_readonly_engine(settings.resolved_user_db_url), self.embedder, self.catalogue)
        self.service = AdvisorService(sources)

    def recommend(self, user: str) -> None:
        from finray.agent.service import AdviceRequest
        from serve_apps.answers import recommended_items

        result = self.service.recommend(AdviceRequest(user_id=user, k=5))
        recommended_items(result)

    def search(self, q: str) -> None:
        from finray.agent.offline import key_numbers
        from finray.retrieval.memory_index import CatalogueSearch
        from finray.stores.base import ProductFilters
        from serve_apps.api_models import SearchHit, SearchResponse, summarize

        vector = self.embedder.embed_queries([q])[0].tolist()
        hits = CatalogueSearch(self.catalogue.current).search(q, vector, self.embedder.name, ProductFilters(), 10)
        SearchResponse(query=q, mode="hybrid", request_id="", hits=[
            SearchHit(**summarize(h.product, key_numbers(h.product)), score=h.score, rank=h.rank) for h in hits
        ]).model_dump_json()

    def chat(self, user: str, question: str) -> float:
        """Runs the stream; returns seconds to the first text chunk."""
        from finray.agent.service import AdviceDelta, AdviceRequest

        t = time.perf_counter()
        first = None
        for event in self.service.stream(AdviceRequest(user_id=user, question=question, k=3)):
            if first is None and isinstance(event, AdviceDelta):
                first = time.perf_counter()
        return (first or time.perf_counter()) - t


def overhead_runs(url: str, home: str, users: Sequence[str], queries: Sequence[str], questions: Sequence[str],
                  n: int, seed: int, tokens: Tokens) -> tuple[list[Run], list[Run]]:
    """One request at a time, alternating Serve and in-process with the same inputs.

    Alternating (A, B, A, B …) makes both see the same background load, which on a shared
    machine changes from minute to minute.
    """
    local = LocalPipeline(home)
    rng = random.Random(seed)
    serve_runs = {name: Run(f"{name} (Serve)") for name in ("recommendations", "search", "chat")}
    local_runs = {name: Run(f"{name} (in-process)") for name in ("recommendations", "search", "chat")}

    async def via_serve(client: httpx.AsyncClient, name: str, run: Run, args: tuple) -> None:
        t = time.perf_counter()
        if name == "recommendations":
            r = await client.get(f"/api/v1/recommendations/{args[0]}", params={"k": 5}, headers=tokens.headers(args[0]))
            r.raise_for_status()
        elif name == "search":
            r = await client.get("/api/v1/products/search", params={"q": args[0], "k": 10}, headers=tokens.headers(args[1]))
            r.raise_for_status()
        else:
            first = None
            async with client.stream("POST", "/api/v1/chat/stream", json={"user_id": args[0], "question": args[1], "k": 3},
                                     headers=tokens.headers(args[0])) as r:
                r.raise_for_status()
                buf = ""
                async for chunk in r.aiter_text():
                    buf += chunk
                    if first is None and "event: delta" in buf:
                        first = time.perf_counter()
            run.first_token_ms.append(((first or time.perf_counter()) - t) * 1000)
        run.latencies_ms.append((time.perf_counter() - t) * 1000)

    def in_process(name: str, run: Run, args: tuple) -> None:
        t = time.perf_counter()
        if name == "recommendations":
            local.recommend(args[0])
        elif name == "search":
            local.search(args[0])
        else:
            run.first_token_ms.append(local.chat(args[0], args[1]) * 1000)
        run.latencies_ms.append((time.perf_counter() - t) * 1000)

    async def main() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            for name in ("recommendations", "search", "chat"):
                if SAMPLER is not None:
                    SAMPLER.targets = [serve_runs[name], local_runs[name]]
                for i in range(n + 3):
                    args: tuple = (
                        (rng.choice(users),) if name == "recommendations"
                        else (rng.choice(queries), rng.choice(users)) if name == "search"
                        else (rng.choice(users), rng.choice(questions))
                    )
                    warm = i < 3
                    s_run = Run("warm") if warm else serve_runs[name]
                    l_run = Run("warm") if warm else local_runs[name]
                    try:
                        await via_serve(client, name, s_run, args)
                    except Exception as err:  # noqa: BLE001
                        s_run.errors += 1
                        if len(s_run.error_samples) < 3:
                            s_run.error_samples.append(f"{type(err).__name__}: {str(err)[:120]}")
                    in_process(name, l_run, args)

    asyncio.run(main())
    for run in (*serve_runs.values(), *local_runs.values()):
        run.seconds = sum(run.latencies_ms) / 1000
    local.catalogue.close()
    return list(serve_runs.values()), list(local_runs.values())


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------
def start_serve(home: str) -> str:
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    return run_app(home, "finray-bench", ready_timeout_s=60)


def stop_serve() -> None:
    import ray
    from ray import serve

    serve.shutdown()
    ray.shutdown()


def user_ids(home: str, limit: int = 1000) -> list[str]:
    from sqlalchemy import select

    from finray.config import load_settings
    from finray.users.db import USERS, create_readonly_engine

    engine = create_readonly_engine(load_settings(FINRAY_HOME=home).resolved_user_db_url)
    with engine.connect() as conn:
        ids = list(conn.execute(select(USERS.c.user_id).order_by(USERS.c.user_id).limit(limit)).scalars())
    engine.dispose()
    return ids


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def report(args: argparse.Namespace, info: dict[str, Any], loaded: list[Run], serial: list[Run], local: list[Run]) -> str:
    import ray

    def p50(runs: list[Run], name: str) -> float:
        return next(pct(r.latencies_ms, 50) for r in runs if r.name.startswith(name))

    rec99 = next(pct(r.latencies_ms, 99) for r in loaded if r.name.startswith("recommendations"))
    chat_ft95 = next(pct(r.first_token_ms, 95) for r in loaded if r.name.startswith("chat"))
    lines = [
        SECTION,
        "",
        f"Run {info['started']} on {info['cpu']} ({info['cores']} cores), Python {info['python']}, Ray {ray.__version__}; "
        f"load average {info['load_before']} before and {info['load_after']} after the run "
        "(1/5/15 min — the machine is shared with other engineers' jobs, so every figure includes their load; "
        "the *load avg* column is the mean 1-min load while that row was measured, 2.0 = both cores busy). "
        f"`{info['command']}`; data: {info['data']}. Every request carries a Bearer token ({info['auth']}); "
        "the Serve rows therefore include token verification and rate limiting, the in-process rows do not.",
        "",
        f"### Under load: {args.concurrency} concurrent clients, closed loop, {args.duration:.0f} s per endpoint (after {args.warmup:.0f} s warm-up)",
        "",
        "| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms | first token p50/p95/p99 ms | load avg | replicas at the end |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(r.row() for r in loaded),
        "",
        f"Distinct texts: search repeats {repeat_share(next(r.sent for r in loaded if r.name.startswith('search'))):.0%} "
        f"of its queries, chat {repeat_share(next(r.sent for r in loaded if r.name.startswith('chat'))):.0%} of its questions "
        "(a repeat is served from the QueryEmbedder's vector memo).",
        "",
        f"### Serve overhead: one request at a time, {args.serial} requests each, Serve and in-process alternating",
        "",
        "| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms | first token p50/p95/p99 ms | load avg |",
        "|---|---|---|---|---|---|---|---|---|",
        *(r.row() for r in serial),
        *(r.row() for r in local),
        "",
        "| endpoint | Serve p50 − in-process p50 |",
        "|---|---|",
        *(
            f"| {name} | {p50(serial, name) - p50(local, name):+.1f} ms |"
            for name in ("recommendations", "search", "chat")
        ),
        "",
        "### Targets",
        "",
        f"- recommendations p99 ≤ 250 ms at {args.concurrency} concurrent: **{rec99:.0f} ms** — "
        + ("met" if rec99 <= 250 else "missed"),
        f"- chat first token p95 ≤ 400 ms (offline generator): **{chat_ft95:.0f} ms** — "
        + ("met" if chat_ft95 <= 400 else "missed"),
        *(
            f"- Serve overhead ≤ 15 ms at p50, {name}: **{p50(serial, name) - p50(local, name):+.1f} ms** — "
            + ("met" if p50(serial, name) - p50(local, name) <= 15 else "missed")
            for name in ("recommendations", "search", "chat")
        ),
    ]
    errors = [s for r in loaded + serial for s in r.error_samples]
    if errors:
        lines += ["", "Error samples: " + "; ".join(errors)]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's section of RESULTS.md (up to the next ``## ``), or append it."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start = text.find(SECTION + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("\n" + text[nxt + 1 :] if nxt != -1 else "")
    path.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", default=os.environ.get("FINRAY_HOME") or str(ROOT / "var"), help="a filled FINRAY_HOME")
    ap.add_argument("--url", help="benchmark this running deployment instead of starting Serve here")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of load per endpoint (≥ 30 for the record)")
    ap.add_argument(
        "--warmup", type=float, default=20.0,
        help="seconds of unrecorded load before each endpoint (lets autoscaling settle: upscale_delay_s is 10)",
    )
    ap.add_argument("--concurrency", type=int, default=CONCURRENCY)
    ap.add_argument("--serial", type=int, default=150, help="requests per endpoint for the overhead comparison")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--users", type=int, default=1000, help="simulated users (each signs in once before the clock)")
    ap.add_argument("--results", type=Path, help="write the section into this RESULTS.md")
    ap.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE",
        help="environment for the local Ray cluster started here, e.g. RAY_SERVE_THROUGHPUT_OPTIMIZED=1",
    )
    args = ap.parse_args()
    if not 1 <= args.concurrency <= 64:
        ap.error("--concurrency must be 1..64 (the load is bounded on purpose)")

    home = str(Path(args.home).resolve())
    os.environ["FINRAY_HOME"] = home
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            ap.error(f"--env expects KEY=VALUE, got {item!r}")
        os.environ[key] = value
    if args.users < 1:
        ap.error("--users must be ≥ 1")
    users = user_ids(home, args.users)
    if not users:
        ap.error(f"no users in {home}: run `make jobs` (or the data_jobs) first")
    rng = random.Random(args.seed)
    queries = texts(SEARCHES, rng, 5000)
    questions = texts(ASKS, rng, 5000)

    info: dict[str, Any] = {
        **machine(),
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "command": "python bench/serve_latency.py " + " ".join(sys.argv[1:]),
        "env": " ".join(args.env) or "defaults",
    }
    global SAMPLER
    SAMPLER = LoadSampler()
    url = args.url or start_serve(home)
    status = httpx.get(url + "/", timeout=30).json()
    info["data"] = (
        f"{status['catalogue']['indexed']:,} products indexed ({status['catalogue']['index_embedder']}), "
        f"{len(users):,} users"
    )
    try:
        tokens = Tokens(url)
        t = time.perf_counter()
        asyncio.run(tokens.sign_in(users))
        info["auth"] = f"{tokens.logins:,} users signed in through dev login in {time.perf_counter() - t:.1f} s before the clocks"
        phase_s = args.warmup + args.duration + 60  # a token must outlive the phase about to start
        loaded = []
        for name, call, kw in (
            ("recommendations", recommend, {"users": users}),
            ("search (hybrid)", search, {"queries": queries, "users": users}),
            ("chat stream", chat, {"users": users, "questions": questions}),
        ):
            asyncio.run(tokens.fresh_for(phase_s))
            loaded.append(asyncio.run(closed_loop(url, name, call, args.duration, args.concurrency, args.seed,
                                                  args.warmup, tokens=tokens, **kw)))
        asyncio.run(tokens.fresh_for(600))  # the serial comparison: 3 × (n + 3) requests one at a time
        serial, local = overhead_runs(url, home, users, queries, questions, args.serial, args.seed + 1, tokens)
        if tokens.refreshes:
            info["auth"] += f"; {tokens.refreshes:,} tokens refreshed between phases"
    except AuthError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if not args.url:
            stop_serve()
    info["load_after"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    section = report(args, info, loaded, serial, local)
    print(section)
    if args.results:
        write_section(args.results, section)
        print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
