"""Building blocks of the finray DAGs: default task arguments and one RayJob step.

Timeouts and retries, and why:

* ``create``/``cleanup`` talk to the API server only: 5 minutes, 3 retries with backoff.
* ``wait`` (reschedule mode) checks every ``FINRAY_RAYJOB_POKE_S`` seconds; each check may take
  5 minutes at most (``execution_timeout``), and the whole wait gives up after the job's
  ``activeDeadlineSeconds`` plus ``FINRAY_RAYJOB_STARTUP_S`` (by then KubeRay has failed the job
  with ``DeadlineExceeded`` anyway). A failed job is not retried by Airflow — KubeRay already
  re-ran it ``backoffLimit`` times on a fresh cluster — but an API error during a check is.
* every task alerts Slack when it fails for good (:mod:`finray_airflow.alerts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset, BaseOperator, TaskGroup

from finray_airflow.alerts import notify_slack_on_failure
from finray_airflow.rayjob import CreateRayJobOperator, DeleteRayJobsOperator, RayJobSensor
from finray_airflow.settings import DagSettings

API_TASK_TIMEOUT = timedelta(minutes=5)
POKE_TIMEOUT = timedelta(minutes=5)


def default_args() -> dict[str, Any]:
    return {
        "owner": "finray-platform",
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=20),
        "execution_timeout": API_TASK_TIMEOUT,
        "on_failure_callback": notify_slack_on_failure,
    }


@dataclass(frozen=True)
class RayJobStep:
    """The three tasks of one data job; chain steps with ``a.wait >> b.create``."""

    create: BaseOperator
    wait: BaseOperator
    cleanup: BaseOperator
    deadline: timedelta  # how long ``wait`` may take in all


def rayjob_step(job: str, settings: DagSettings, *, outlets: Sequence[Asset] = ()) -> RayJobStep:
    """create → wait → cleanup for ``job``, in a task group named after it."""
    from k8s import rayjob_manifest

    body = rayjob_manifest(settings.k8s_env, job)  # the same renderer as k8s/rendered/<env>/rayjobs/
    namespace = body["metadata"]["namespace"]
    deadline = timedelta(seconds=body["spec"]["activeDeadlineSeconds"] + settings.startup_allowance_s)
    with TaskGroup(group_id=job, tooltip=body["spec"]["entrypoint"]):
        create = CreateRayJobOperator(task_id="create", rayjob=body, kubernetes_conn_id=settings.kubernetes_conn_id)
        wait = RayJobSensor(
            task_id="wait", name=create.output, namespace=namespace, kubernetes_conn_id=settings.kubernetes_conn_id,
            mode="reschedule", poke_interval=settings.poke_interval_s, timeout=deadline,
            execution_timeout=POKE_TIMEOUT, outlets=list(outlets),
        )
        cleanup = DeleteRayJobsOperator(task_id="cleanup", job=job, namespace=namespace,
                                        kubernetes_conn_id=settings.kubernetes_conn_id)
        create >> wait >> cleanup
        cleanup.as_teardown(setups=create)
    return RayJobStep(create=create, wait=wait, cleanup=cleanup, deadline=deadline)


def dagrun_timeout(steps: Sequence[RayJobStep]) -> timedelta:
    """The run may take as long as its steps' waits in sequence, plus an hour for retries and queues."""
    return sum((s.deadline for s in steps), timedelta()) + timedelta(hours=1)
