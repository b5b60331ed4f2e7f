"""Create a RayJob, wait for it without holding a worker slot, and clean it up.

One data-job step is three tasks (see :func:`finray_airflow.steps.rayjob_step`):

``create``  (setup)    POST the RayJob the ``k8s`` renderer builds for this environment, labelled
                       with the DAG run, through ``KubernetesHook.create_custom_object``; returns
                       the generated name (XCom).
``wait``    (sensor)   reschedule mode: each check is a short task run that reads
                       ``status.jobDeploymentStatus``/``status.jobStatus`` and gives the worker slot
                       back until the next check. Success returns a summary; a failed job fails
                       the task *without retry* (KubeRay's ``backoffLimit`` already retried it on
                       a new cluster) with KubeRay's reason and message; a RayJob that vanished
                       fails too; the sensor ``timeout`` is the job's ``activeDeadlineSeconds``
                       plus a start-up allowance.
``cleanup`` (teardown) deletes every RayJob of this run and job — also when ``wait`` failed or
                       timed out, and including a duplicate a retried ``create`` may have left —
                       which stops a job still running and lets KubeRay delete its cluster.
                       Teardowns do not decide the DAG run's state, so a failed job still fails
                       the run.

Kubernetes API errors other than "not found"/"invalid" are raised as they are, so Airflow's task
retries cover a flaky API server.
"""

from __future__ import annotations

import hashlib
from typing import Any

from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
from airflow.sdk import BaseOperator, BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException
from kubernetes.client.exceptions import ApiException

from finray_airflow.rayjob_state import Phase, classify

GROUP, VERSION, PLURAL = "ray.io", "v1", "rayjobs"
RUN_LABEL = "finray.io/airflow-run"
DAG_LABEL = "finray.io/airflow-dag"
JOB_LABEL = "finray.io/job"


def run_key(dag_id: str, run_id: str) -> str:
    """A label-safe key for one DAG run (run ids contain ':' and '+', which labels cannot)."""
    return hashlib.sha256(f"{dag_id}/{run_id}".encode()).hexdigest()[:16]


def body_for_run(template: dict[str, Any], *, dag_id: str, run_id: str, task_id: str, try_number: int) -> dict[str, Any]:
    """The RayJob template with this run's labels and annotations (the template is not modified)."""
    meta = dict(template["metadata"])
    meta["labels"] = {**meta.get("labels", {}), DAG_LABEL: dag_id, RUN_LABEL: run_key(dag_id, run_id)}
    meta["annotations"] = {**meta.get("annotations", {}), "finray.io/airflow-run-id": run_id,
                           "finray.io/airflow-task": task_id, "finray.io/airflow-try": str(try_number)}
    return {**template, "metadata": meta}


def _api_message(exc: ApiException) -> str:
    import json

    try:
        return json.loads(exc.body).get("message") or str(exc.reason)
    except (TypeError, ValueError):
        return str(exc.reason)


class CreateRayJobOperator(BaseOperator):
    """POST one RayJob; return its generated name."""

    ui_color = "#e8f4fd"

    def __init__(self, *, rayjob: dict[str, Any], kubernetes_conn_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rayjob = rayjob
        self.namespace = rayjob["metadata"]["namespace"]
        self.kubernetes_conn_id = kubernetes_conn_id

    def execute(self, context: Any) -> str:
        ti = context["ti"]
        body = body_for_run(self.rayjob, dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id,
                            try_number=ti.try_number)
        hook = KubernetesHook(conn_id=self.kubernetes_conn_id)
        try:
            created = hook.create_custom_object(group=GROUP, version=VERSION, plural=PLURAL, body=body,
                                                namespace=self.namespace)
        except ApiException as exc:
            if exc.status in (400, 403, 404, 422):  # retrying cannot fix these
                raise AirflowFailException(
                    f"Kubernetes refused RayJob {body['metadata']['generateName']}* in {self.namespace}: "
                    f"{exc.status} {_api_message(exc)}") from exc
            raise
        name = created["metadata"]["name"]
        self.log.info("created RayJob %s/%s: %s", self.namespace, name, body["spec"]["entrypoint"])
        return name


class RayJobSensor(BaseSensorOperator):
    """Wait for a RayJob to finish; fail with KubeRay's reason and message if it did not succeed."""

    template_fields = ("name",)
    ui_color = "#fdf6e3"

    def __init__(self, *, name: str, namespace: str, kubernetes_conn_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.name = name
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id

    def poke(self, context: Any) -> bool | PokeReturnValue:
        hook = KubernetesHook(conn_id=self.kubernetes_conn_id)
        try:
            obj = hook.get_custom_object(group=GROUP, version=VERSION, plural=PLURAL, name=self.name,
                                         namespace=self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise AirflowFailException(
                    f"RayJob {self.namespace}/{self.name} no longer exists: it was deleted before it finished "
                    "(by hand, or by an operator running with DELETE_RAYJOB_CR_AFTER_JOB_FINISHES)") from exc
            raise
        state = classify(obj)
        self.log.info(state.describe())
        if state.phase is Phase.SUCCEEDED:
            return PokeReturnValue(is_done=True, xcom_value=state.summary())
        if state.phase is Phase.FAILED:
            raise AirflowFailException(state.failure())
        return False


class DeleteRayJobsOperator(BaseOperator):
    """Delete every RayJob of this DAG run and job (a teardown: runs even when the wait failed)."""

    ui_color = "#f4f4f4"

    def __init__(self, *, job: str, namespace: str, kubernetes_conn_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id

    def execute(self, context: Any) -> list[str]:
        ti = context["ti"]
        selector = f"{JOB_LABEL}={self.job},{RUN_LABEL}={run_key(ti.dag_id, ti.run_id)}"
        hook = KubernetesHook(conn_id=self.kubernetes_conn_id)
        listed = hook.custom_object_client.list_namespaced_custom_object(
            group=GROUP, version=VERSION, namespace=self.namespace, plural=PLURAL, label_selector=selector)
        deleted = []
        for item in listed.get("items", []):
            name = item["metadata"]["name"]
            try:
                hook.delete_custom_object(group=GROUP, version=VERSION, plural=PLURAL, name=name,
                                          namespace=self.namespace)
            except ApiException as exc:
                if exc.status != 404:  # already gone is what we wanted
                    raise
            deleted.append(name)
            self.log.info("deleted RayJob %s/%s (status %s)", self.namespace, name,
                          classify(item).describe())
        if not deleted:
            self.log.info("no RayJob left for %s in %s", selector, self.namespace)
        return deleted
