"""``python -m data_jobs <job> [--options]``: run a job, print a summary table, exit non-zero on failure.

The last line on failure is ``error: <reason>`` so Airflow/KubeRay logs show why in one line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table

from data_jobs.runtime import JobResult
from finray.alerts import notify_job_failure
from finray.config import SettingsError, load_settings


def _collect_products(args: argparse.Namespace) -> JobResult:
    from data_jobs import collect_products

    return collect_products.run(load_settings(), sources=args.sources)


def _embed_products(args: argparse.Namespace) -> JobResult:
    from data_jobs import embed_products

    return embed_products.run(load_settings(), force=args.force, batch_size=args.batch_size, actors=args.actors)


def _embed_users(args: argparse.Namespace) -> JobResult:
    from data_jobs import embed_users

    return embed_users.run(
        load_settings(), force=args.force, partitions=args.partitions, batch_size=args.batch_size, actors=args.actors
    )


def _collect_indicators(args: argparse.Namespace) -> JobResult:
    from data_jobs import collect_indicators

    return collect_indicators.run(load_settings(), source=args.source, indicators=args.indicators)


def _train_forecaster(args: argparse.Namespace) -> JobResult:
    from data_jobs import train_forecaster

    return train_forecaster.run(load_settings(), indicators=args.indicators, storage_uri=args.storage_uri)


def _seed_users(args: argparse.Namespace) -> JobResult:
    from data_jobs import seed_users

    return seed_users.run(load_settings(), users=args.users, seed=args.seed)


JOBS: dict[str, tuple[Callable[[argparse.Namespace], JobResult], str]] = {
    "collect_products": (_collect_products, "fetch finlife + fund sources, normalize, publish safely"),
    "embed_products": (_embed_products, "embed new/changed catalogue products into the store"),
    "embed_users": (_embed_users, "persona + vector for every user whose persona changed"),
    "collect_indicators": (_collect_indicators, "fetch RiskXpert indicator series (ECOS or bundled)"),
    "train_forecaster": (_train_forecaster, "backtest, select and fit a forecaster per indicator; publish"),
    "seed_users": (_seed_users, "fill the embedded user DB with seeded demo users"),
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m data_jobs", description=__doc__)
    sub = ap.add_subparsers(dest="job", required=True, metavar="JOB")
    for name, (_, help_) in JOBS.items():
        p = sub.add_parser(name, help=help_)
        if name.startswith("embed_"):
            p.add_argument("--force", action="store_true", help="re-embed everything")
            p.add_argument("--batch-size", type=int, default=256)
            p.add_argument("--actors", type=int, default=None, help="embedder actors (default: by CPUs)")
        if name == "embed_users":
            p.add_argument("--partitions", type=int, default=None, help="read partitions (default: ~5k users each)")
        if name == "collect_products":
            p.add_argument("--sources", nargs="+", default=None, metavar="SOURCE",
                           help="only these sources, e.g. finlife:deposit funds:kb (default: all)")
        if name in ("collect_indicators", "train_forecaster"):
            p.add_argument("--indicators", nargs="+", default=None, metavar="KEY",
                           help="indicator keys (default: all)")
        if name == "collect_indicators":
            p.add_argument("--source", choices=["snapshot", "live"], default=None,
                           help="default: FINRAY_INDICATOR_SOURCE, else snapshot")
        if name == "train_forecaster":
            p.add_argument("--storage-uri", default=None, help="artifact root (default: <FINRAY_HOME>/models)")
        if name == "seed_users":
            p.add_argument("--users", type=int, default=1000, help="how many demo users (10..1,000,000)")
            p.add_argument("--seed", type=int, default=42)
    return ap


def render(result: JobResult, console: Console) -> None:
    table = Table(title=f"{result.job} — {result.seconds:.1f}s, {result.throughput:,.1f} records/s")
    table.add_column("count")
    table.add_column("value", justify="right")
    for k, v in result.counts.items():
        table.add_row(k, f"{v:,}")
    console.print(table)
    if result.details:
        console.print(details_table(result.details))


#: Columns shown for per-source rows of collect_products, in this order.
SOURCE_COLUMNS = ["source", "fetched", "valid", "quarantined", "new", "changed", "discontinued",
                  "active", "disclosure_month", "last_error"]


def details_table(details: list[dict]) -> Table:
    """One row per detail record; known per-source columns first, then whatever else jobs report."""
    keys = list(dict.fromkeys(k for d in details for k in d))
    cols = [c for c in SOURCE_COLUMNS if c in keys] + [k for k in keys if k not in SOURCE_COLUMNS]
    t = Table(title="details")
    for c in cols:
        t.add_column(c)
    for d in details:
        t.add_row(*[str(d.get(c) if d.get(c) is not None else "") for c in cols])
    return t


def summary_console() -> Console:
    """Where the summary goes. Off a terminal (Airflow/RayJob logs, `make up`) rich would assume
    80 columns and wrap long cells — a model-selection reason — into unreadable slivers, so a
    fixed wide console is used there; `COLUMNS` still wins when set."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=LOG_WIDTH)


#: Width of the summary tables when stdout is a log file rather than a terminal.
LOG_WIDTH = 400  # tables are only as wide as their cells; this only stops rich wrapping them


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    console = summary_console()
    try:
        load_settings()  # fail fast, one line, before Ray starts
        result = JOBS[args.job][0](args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the CLI's job is to turn any failure into one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {args.job} failed: {reason}", file=sys.stderr)
        notify_job_failure(args.job, f"{type(exc).__name__}: {reason}")  # Slack, if configured
        return 1
    render(result, console)
    if result.error:
        print(f"error: {args.job} finished with a failed source: {result.error}", file=sys.stderr)
        notify_job_failure(args.job, f"finished with a failed source: {result.error}")
        return 1
    return 0
