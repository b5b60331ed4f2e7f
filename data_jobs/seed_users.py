"""``seed_users``: fill the embedded user DB with seeded demo users (never run against production)."""

from __future__ import annotations

from data_jobs.runtime import JobError, JobResult, timed
from finray.config import Settings, load_settings
from finray.users.demo import seed_demo_users


def run(settings: Settings | None = None, users: int = 1000, seed: int = 42) -> JobResult:
    settings = settings or load_settings()
    if settings.env == "prod":
        raise JobError("seed_users: refused with FINRAY_ENV=prod (the user DB is read-only there)")
    settings.home.mkdir(parents=True, exist_ok=True)
    result = JobResult(job="seed_users")
    with timed(result):
        total = seed_demo_users(settings.resolved_user_db_url, users, seed=seed)
    result.records = users
    result.counts = {"users": total}
    return result
