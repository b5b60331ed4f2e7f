"""What every job shares: starting Ray the same way locally and on KubeRay, and its result type.

On a KubeRay RayJob the submitter sets ``RAY_ADDRESS`` and ``ray.init()`` joins that cluster; on a
laptop the same call starts a local Ray. Jobs never pass cluster details themselves.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ray


class JobError(RuntimeError):
    """A job failed; the message is the one line the CLI prints."""


@dataclass
class JobResult:
    job: str
    counts: dict[str, int] = field(default_factory=dict)
    records: int = 0  # main unit of work (products embedded, users embedded, ...)
    seconds: float = 0.0
    details: list[dict[str, Any]] = field(default_factory=list)  # per-source rows, etc.
    error: str | None = None  # a partial failure that should make the exit status non-zero

    @property
    def throughput(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


#: Settings (``finray/config.py``) a local Ray's workers and Serve replicas get from the driver's
#: environment: ``ray.init`` here passes them as the job's ``runtime_env``, which every task,
#: actor and replica started under this driver inherits.
FORWARDED_ENV_PREFIXES = (
    "FINRAY_", "GOOGLE_", "GEMINI_", "MONGODB_", "REDIS_", "FINLIFE_", "ECOS_", "DATA_GO_KR_",
    "AUTH_", "KAKAO_", "SLACK_", "RATE_LIMIT_", "ALERT_", "MAX_REQUEST_", "TRUSTED_PROXY_",
)


def ensure_ray(num_cpus: int | None = None) -> None:
    """Join ``RAY_ADDRESS`` if set (KubeRay, `ray start`), else start a local Ray once."""
    if ray.is_initialized():
        return
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
    kwargs: dict[str, Any] = {
        "runtime_env": {"env_vars": env} if env else None,
        "log_to_driver": False,
        "logging_level": "WARNING",
    }
    if not os.environ.get("RAY_ADDRESS"):
        kwargs["num_cpus"] = num_cpus or os.cpu_count() or 2
        kwargs["include_dashboard"] = False
    ray.init(**{k: v for k, v in kwargs.items() if v is not None})
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = os.environ.get("FINRAY_PROGRESS", "1") == "1"
    ctx.verbose_progress = False


@contextmanager
def timed(result: JobResult) -> Iterator[JobResult]:
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - start
