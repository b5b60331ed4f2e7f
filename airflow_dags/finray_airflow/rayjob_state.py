"""What a RayJob's ``status`` means for the task waiting on it — a pure function, no Airflow.

KubeRay reports two fields (``ray-operator/apis/ray/v1/rayjob_types.go``):

* ``jobDeploymentStatus`` — the RayJob's lifecycle: ``""`` (new), ``Initializing`` (cluster
  coming up), ``Running``, ``Retrying`` (a failed attempt, ``backoffLimit`` not exhausted: a new
  cluster follows), ``Waiting`` (interactive mode), ``Suspending``/``Suspended`` (e.g. queued by
  Kueue), and the terminal ``Complete``, ``Failed`` and ``ValidationFailed`` (KubeRay refused the
  spec and will never run it);
* ``jobStatus`` — the Ray job itself: ``PENDING``, ``RUNNING``, ``STOPPED``, ``SUCCEEDED``,
  ``FAILED``;

plus ``reason`` (``AppFailed``, ``DeadlineExceeded``, ``SubmissionFailed``, ...) and ``message``
(for a failed job, Ray's message with the tail of the driver log, which ends with the CLI's one
line ``error: <job> failed: <why>``).

Success is ``Complete`` with ``SUCCEEDED``: ``Complete`` alone only says the job reached *a*
terminal state. Everything else that is not terminal keeps the sensor waiting; the sensor's own
timeout bounds that.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Phase(str, Enum):
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


TERMINAL_FAILURES = {"Failed", "ValidationFailed"}


@dataclass(frozen=True)
class RayJobState:
    name: str
    phase: Phase
    deployment_status: str
    job_status: str
    reason: str
    message: str
    failed_attempts: int
    ray_job_id: str
    cluster: str

    def describe(self) -> str:
        """One line for the task log on every check."""
        parts = [f"RayJob {self.name}: jobDeploymentStatus={self.deployment_status or '(new)'}",
                 f"jobStatus={self.job_status or '-'}"]
        if self.failed_attempts:
            parts.append(f"failed attempts={self.failed_attempts}")
        if self.cluster:
            parts.append(f"cluster={self.cluster}")
        return ", ".join(parts)

    def failure(self) -> str:
        """Why the job failed, with KubeRay's reason and message, for the task error and Slack."""
        why = f"{self.reason}: " if self.reason else ""
        detail = self.message.strip() or "no message from KubeRay"
        extra = f" (ray job {self.ray_job_id})" if self.ray_job_id else ""
        return (f"RayJob {self.name} failed — jobDeploymentStatus={self.deployment_status}, "
                f"jobStatus={self.job_status or '-'}, {why}{detail}{extra}")

    def summary(self) -> dict[str, Any]:
        """What the sensor returns as XCom on success."""
        return {"name": self.name, "jobDeploymentStatus": self.deployment_status, "jobStatus": self.job_status,
                "rayJobId": self.ray_job_id, "failedAttempts": self.failed_attempts}


def classify(obj: dict[str, Any]) -> RayJobState:
    """The phase of a RayJob object as returned by the Kubernetes API."""
    status = obj.get("status") or {}
    deployment = status.get("jobDeploymentStatus") or ""
    job = status.get("jobStatus") or ""
    if deployment == "Complete":
        phase = Phase.SUCCEEDED if job == "SUCCEEDED" else Phase.FAILED
    elif deployment in TERMINAL_FAILURES:
        phase = Phase.FAILED
    else:
        phase = Phase.WAITING
    return RayJobState(
        name=(obj.get("metadata") or {}).get("name", "?"),
        phase=phase,
        deployment_status=deployment,
        job_status=job,
        reason=status.get("reason") or "",
        message=status.get("message") or "",
        failed_attempts=int(status.get("failed") or 0),
        ray_job_id=status.get("jobId") or "",
        cluster=status.get("rayClusterName") or "",
    )
