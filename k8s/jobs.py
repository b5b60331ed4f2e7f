"""The data jobs KubeRay runs, and what each one needs from its cluster.

A job here is a ``python -m data_jobs <job>`` entry point (see ``data_jobs/cli.py``); its RayJob
gets a fresh cluster, a deadline and a retry budget. Sizes differ per environment and live in
``k8s/environments.py``; what does not differ (entry point, deadline, retries) lives here.

Retries are layered on purpose: ``backoff_limit`` lets KubeRay rerun a job on a *new* cluster
(a lost node, an evicted head), while Airflow's task retries cover the control plane (a failed
API call creating or polling the RayJob). Every job is idempotent — safe publish, incremental
embedding by content hash, versioned model artifacts — so a rerun never duplicates data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataJob:
    """One ``python -m data_jobs`` job as a RayJob."""

    name: str  # the CLI job name, e.g. "collect_products"
    summary: str
    active_deadline_seconds: int  # KubeRay fails the RayJob (reason DeadlineExceeded) after this
    backoff_limit: int  # KubeRay reruns a failed job on a new cluster this many times

    @property
    def entrypoint(self) -> str:
        return f"python -m data_jobs {self.name}"

    @property
    def module(self) -> str:
        """The module that implements the job (its ``run`` function), for existence checks."""
        return f"data_jobs.{self.name}"

    @property
    def k8s_name(self) -> str:
        """``finray-collect-products``: the RayJob ``generateName`` stem (DNS-1035, no ``_``)."""
        return "finray-" + self.name.replace("_", "-")


DATA_JOBS: dict[str, DataJob] = {
    j.name: j
    for j in (
        DataJob("collect_products", "fetch finlife + fund sources, normalize, publish safely",
                active_deadline_seconds=60 * 60, backoff_limit=1),
        DataJob("embed_products", "embed new/changed catalogue products into the store",
                active_deadline_seconds=2 * 60 * 60, backoff_limit=1),
        DataJob("embed_users", "persona + vector for every user whose persona changed",
                active_deadline_seconds=6 * 60 * 60, backoff_limit=1),
        DataJob("collect_indicators", "fetch the RiskXpert indicators (ECOS) into monthly series",
                active_deadline_seconds=30 * 60, backoff_limit=1),
        DataJob("train_forecaster", "backtest, select and fit one forecaster per indicator",
                active_deadline_seconds=3 * 60 * 60, backoff_limit=1),
    )
}


def get_job(name: str) -> DataJob:
    """The job called ``name``; a clear error listing the known jobs otherwise."""
    try:
        return DATA_JOBS[name]
    except KeyError:
        raise KeyError(f"unknown data job {name!r}; known: {', '.join(DATA_JOBS)}") from None
