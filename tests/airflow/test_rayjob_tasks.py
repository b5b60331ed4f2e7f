"""The RayJob tasks against a loopback Kubernetes API, through Airflow's real ``KubernetesHook``.

The sensor's state machine (waiting, succeeded, failed, missing, timeout, API errors), creation
(labels, validation, errors), cleanup, the Slack alert, and whole DAG runs with ``dag.test()``
where a background thread plays the KubeRay operator.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.airflow.conftest import NAMESPACE

RUN_ID = "scheduled__2026-11-23T18:00:00+00:00"


class StubTI:
    """The task-instance fields the operators read (``dag_id``, ``run_id``, ``task_id``, ``try_number``)."""

    def __init__(self, task_id: str, dag_id: str = "finray_product_etl", run_id: str = RUN_ID,
                 try_number: int = 1, first_reschedule: datetime | None = None) -> None:
        self.dag_id, self.run_id, self.task_id, self.try_number = dag_id, run_id, task_id, try_number
        self._first = first_reschedule

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        return self._first


def _create(job: str = "collect_products", **ti: Any) -> str:
    from k8s import rayjob_manifest

    from finray_airflow.rayjob import CreateRayJobOperator

    op = CreateRayJobOperator(task_id=f"{job}.create", rayjob=rayjob_manifest("prod", job),
                              kubernetes_conn_id="kubernetes_default")
    return op.execute({"ti": StubTI(f"{job}.create", **ti)})


def _sensor(name: str, timeout: float = 3600) -> Any:
    from finray_airflow.rayjob import RayJobSensor

    return RayJobSensor(task_id="collect_products.wait", name=name, namespace=NAMESPACE,
                        kubernetes_conn_id="kubernetes_default", poke_interval=1, timeout=timeout)


# --- the state machine, as a pure function ----------------------------------------------------------

@pytest.mark.parametrize("status,phase", [
    (None, "waiting"),
    ({"jobDeploymentStatus": ""}, "waiting"),
    ({"jobDeploymentStatus": "Initializing"}, "waiting"),
    ({"jobDeploymentStatus": "Running", "jobStatus": "RUNNING"}, "waiting"),
    ({"jobDeploymentStatus": "Running", "jobStatus": "SUCCEEDED"}, "waiting"),  # Complete follows
    ({"jobDeploymentStatus": "Retrying", "jobStatus": "FAILED", "failed": 1}, "waiting"),
    ({"jobDeploymentStatus": "Suspended"}, "waiting"),
    ({"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}, "succeeded"),
    ({"jobDeploymentStatus": "Complete", "jobStatus": "FAILED"}, "failed"),
    ({"jobDeploymentStatus": "Complete", "jobStatus": "STOPPED"}, "failed"),
    ({"jobDeploymentStatus": "Failed", "jobStatus": "FAILED", "reason": "AppFailed"}, "failed"),
    ({"jobDeploymentStatus": "Failed", "reason": "DeadlineExceeded"}, "failed"),
    ({"jobDeploymentStatus": "ValidationFailed", "reason": "ValidationFailed"}, "failed"),
])
def test_classify(status: dict[str, Any] | None, phase: str) -> None:
    from finray_airflow.rayjob_state import classify

    obj = {"metadata": {"name": "finray-collect-products-abcde"}}
    if status is not None:
        obj["status"] = status
    assert classify(obj).phase.value == phase


# --- create ---------------------------------------------------------------------------------------

def test_create_posts_the_rendered_rayjob_with_run_labels(fake_k8s: Any) -> None:
    from finray_airflow.rayjob import run_key

    name = _create(try_number=2)
    assert name.startswith("finray-collect-products-") and len(name) == len("finray-collect-products-") + 5
    obj = fake_k8s.objects[(NAMESPACE, name)]
    assert obj["spec"]["entrypoint"] == "python -m data_jobs collect_products"
    assert obj["metadata"]["labels"]["finray.io/airflow-run"] == run_key("finray_product_etl", RUN_ID)
    assert obj["metadata"]["annotations"]["finray.io/airflow-run-id"] == RUN_ID
    assert obj["metadata"]["annotations"]["finray.io/airflow-try"] == "2"
    assert _create() != name, "generateName gives every create a new RayJob"


def test_create_fails_without_retry_when_kubernetes_rejects_the_body(fake_k8s: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException
    from k8s import rayjob_manifest

    from finray_airflow.rayjob import CreateRayJobOperator

    body = rayjob_manifest("prod", "collect_products")
    body["spec"]["shutdownAfterJobFinish"] = True  # a typo the strict schema rejects
    op = CreateRayJobOperator(task_id="collect_products.create", rayjob=body, kubernetes_conn_id="kubernetes_default")
    with pytest.raises(AirflowFailException, match=r"422 .*shutdownAfterJobFinish"):
        op.execute({"ti": StubTI("collect_products.create")})
    assert fake_k8s.objects == {}


def test_create_raises_a_retryable_error_when_the_api_server_fails(fake_k8s: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException
    from kubernetes.client.exceptions import ApiException

    fake_k8s.fail_next = [503]
    with pytest.raises(ApiException) as info:
        _create()
    assert info.value.status == 503 and not isinstance(info.value, AirflowFailException)


# --- wait: the sensor against the API ---------------------------------------------------------------

def test_sensor_waits_then_succeeds(fake_k8s: Any) -> None:
    name = _create()
    sensor = _sensor(name)
    ctx = {"ti": StubTI("collect_products.wait")}
    assert sensor.poke(ctx) is False
    for status in ({"jobDeploymentStatus": "Initializing"},
                   {"jobDeploymentStatus": "Running", "jobStatus": "RUNNING"},
                   {"jobDeploymentStatus": "Retrying", "jobStatus": "FAILED", "failed": 1}):
        fake_k8s.set_status(NAMESPACE, name, status)
        assert sensor.poke(ctx) is False
    fake_k8s.set_status(NAMESPACE, name, {"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED",
                                          "jobId": "raysubmit_1", "failed": 1})
    done = sensor.poke(ctx)
    assert done.is_done and done.xcom_value == {"name": name, "jobDeploymentStatus": "Complete",
                                                "jobStatus": "SUCCEEDED", "rayJobId": "raysubmit_1",
                                                "failedAttempts": 1}


def test_sensor_fails_with_kuberays_reason_and_message(fake_k8s: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    name = _create()
    fake_k8s.set_status(NAMESPACE, name, {
        "jobDeploymentStatus": "Failed", "jobStatus": "FAILED", "reason": "AppFailed", "failed": 2,
        "jobId": "raysubmit_9", "message": "Job entrypoint command failed with exit code 1, last available logs: "
                                           "error: collect_products failed: finlife 020000 err_cd=100"})
    with pytest.raises(AirflowFailException) as info:
        _sensor(name).poke({"ti": StubTI("collect_products.wait")})
    text = str(info.value)
    assert "AppFailed" in text and "err_cd=100" in text and "raysubmit_9" in text and name in text


def test_sensor_reports_a_deadline_exceeded_job(fake_k8s: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    name = _create()
    fake_k8s.set_status(NAMESPACE, name, {"jobDeploymentStatus": "Failed", "reason": "DeadlineExceeded",
                                          "message": "The RayJob has passed the activeDeadlineSeconds."})
    with pytest.raises(AirflowFailException, match="DeadlineExceeded: The RayJob has passed"):
        _sensor(name).poke({"ti": StubTI("collect_products.wait")})


def test_sensor_fails_when_the_rayjob_is_missing(fake_k8s: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="finray/finray-collect-products-gone0 no longer exists"):
        _sensor("finray-collect-products-gone0").poke({"ti": StubTI("collect_products.wait")})


def test_sensor_lets_api_errors_through_for_airflow_to_retry(fake_k8s: Any) -> None:
    from kubernetes.client.exceptions import ApiException

    name = _create()
    fake_k8s.fail_next = [500] * 10  # more than the hook's own retries
    with pytest.raises(ApiException) as info:
        _sensor(name).poke({"ti": StubTI("collect_products.wait")})
    assert info.value.status == 500


def test_sensor_reschedules_instead_of_holding_the_slot_and_times_out(fake_k8s: Any) -> None:
    from airflow.sdk.exceptions import AirflowRescheduleException, AirflowSensorTimeout

    name = _create()
    fake_k8s.set_status(NAMESPACE, name, {"jobDeploymentStatus": "Running", "jobStatus": "RUNNING"})
    sensor = _sensor(name, timeout=600)
    started = datetime.now(UTC) - timedelta(seconds=30)
    with pytest.raises(AirflowRescheduleException) as info:
        sensor.execute({"ti": StubTI("collect_products.wait", first_reschedule=started)})
    assert info.value.reschedule_date > datetime.now(UTC)
    long_ago = datetime.now(UTC) - timedelta(seconds=601)
    with pytest.raises(AirflowSensorTimeout, match="timed out"):
        sensor.execute({"ti": StubTI("collect_products.wait", first_reschedule=long_ago)})


# --- cleanup --------------------------------------------------------------------------------------

def test_cleanup_deletes_every_rayjob_of_this_run_and_job_only(fake_k8s: Any) -> None:
    from finray_airflow.rayjob import DeleteRayJobsOperator

    ours = [_create(), _create()]  # e.g. a retried create whose first response was lost
    other_run = _create(run_id="scheduled__2026-11-22T18:00:00+00:00")
    other_job = _create("embed_products")
    op = DeleteRayJobsOperator(task_id="collect_products.cleanup", job="collect_products", namespace=NAMESPACE,
                               kubernetes_conn_id="kubernetes_default")
    ctx = {"ti": StubTI("collect_products.cleanup")}
    assert sorted(op.execute(ctx)) == sorted(ours)
    assert fake_k8s.names(NAMESPACE) == sorted([other_run, other_job])
    assert op.execute(ctx) == []  # nothing left: fine


# --- Slack ----------------------------------------------------------------------------------------

class _FailedTI(StubTI):
    log_url = "http://airflow.internal/dags/finray_product_etl/runs/x/tasks/collect_products.wait"


def test_failure_callback_posts_the_reason_to_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes.slack import FakeSlack

    from finray_airflow.alerts import notify_slack_on_failure

    with FakeSlack() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.webhook_url)
        exc = RuntimeError("RayJob finray-collect-products-x1 failed — AppFailed: could not reach "
                           "mongodb+srv://reader:hunter2@cluster/ with key=abc123")
        notify_slack_on_failure({"ti": _FailedTI("collect_products.wait", try_number=1), "exception": exc})
        (msg,) = slack.messages
    text = msg["text"]
    assert "finray_product_etl.collect_products.wait" in text and "AppFailed" in text and RUN_ID in text
    assert "hunter2" not in text and "abc123" not in text, "credentials must not reach Slack"
    assert "task log" in text


def test_failure_callback_reads_the_webhook_from_an_airflow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes.slack import FakeSlack

    from finray_airflow.alerts import notify_slack_on_failure

    with FakeSlack() as slack:
        monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
        monkeypatch.setenv("AIRFLOW_CONN_FINRAY_SLACK",
                           json.dumps({"conn_type": "http", "password": slack.webhook_url}))
        notify_slack_on_failure({"ti": StubTI("embed_users.wait"), "exception": ValueError("boom")})
        assert len(slack.messages) == 1 and "boom" in slack.messages[0]["text"]


def test_failure_callback_never_raises(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from tests.fakes.slack import FakeSlack

    from finray_airflow.alerts import notify_slack_on_failure

    ctx = {"ti": StubTI("embed_users.wait"), "exception": ValueError("boom")}
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    notify_slack_on_failure(ctx)  # nothing configured: logged, not raised
    with FakeSlack() as slack:
        slack.fail_with = 500
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.webhook_url)
        notify_slack_on_failure(ctx)
        assert slack.messages == []
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/services/closed")
    notify_slack_on_failure(ctx)  # connection refused: logged, not raised
    assert "services/closed" not in caplog.text, "the webhook URL is a credential"


# --- whole DAG runs -------------------------------------------------------------------------------

class KubeRayOperator(threading.Thread):
    """Plays KubeRay: every new RayJob goes Initializing → Running → the outcome chosen for its job."""

    def __init__(self, api: Any, outcomes: dict[str, dict[str, Any]]) -> None:
        super().__init__(daemon=True)
        self.api, self.outcomes, self.stop = api, outcomes, threading.Event()
        self.created: list[str] = []

    def run(self) -> None:
        ticks: dict[str, int] = {}
        while not self.stop.is_set():
            for name in self.api.names(NAMESPACE):
                n = ticks[name] = ticks.get(name, 0) + 1
                job = self.api.objects[(NAMESPACE, name)]["metadata"]["labels"]["finray.io/job"]
                if n == 1:
                    self.created.append(job)
                    self.api.set_status(NAMESPACE, name, {"jobDeploymentStatus": "Initializing"})
                elif n == 3:
                    self.api.set_status(NAMESPACE, name, {"jobDeploymentStatus": "Running", "jobStatus": "RUNNING"})
                elif n == 6:
                    self.api.set_status(NAMESPACE, name, self.outcomes[job])
            time.sleep(0.3)


SUCCEEDED = {"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}


def _run(dagbag: Any, dag_id: str) -> Any:
    return dagbag.dags[dag_id].test()


def test_product_etl_runs_both_jobs_in_order_and_cleans_up(dagbag: Any, airflow_db: None, fake_k8s: Any) -> None:
    kuberay = KubeRayOperator(fake_k8s, {"collect_products": SUCCEEDED, "embed_products": SUCCEEDED})
    kuberay.start()
    try:
        dr = _run(dagbag, "finray_product_etl")
    finally:
        kuberay.stop.set()
    assert dr.state == "success"
    assert kuberay.created == ["collect_products", "embed_products"]
    assert fake_k8s.names(NAMESPACE) == [] and len(fake_k8s.deleted) == 2
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert set(states.values()) == {"success"}, states


def test_forecast_retrain_stops_alerts_and_cleans_up_when_a_job_fails(
        dagbag: Any, airflow_db: None, fake_k8s: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes.slack import FakeSlack

    failed = {"jobDeploymentStatus": "Failed", "jobStatus": "FAILED", "reason": "AppFailed", "failed": 2,
              "message": "error: collect_indicators failed: ECOS answered INFO-100"}
    kuberay = KubeRayOperator(fake_k8s, {"collect_indicators": failed, "train_forecaster": SUCCEEDED})
    with FakeSlack() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.webhook_url)
        kuberay.start()
        try:
            dr = _run(dagbag, "finray_forecast_retrain")
        finally:
            kuberay.stop.set()
        messages = [m["text"] for m in slack.messages]
    assert dr.state == "failed"
    assert kuberay.created == ["collect_indicators"], "train_forecaster must not start after a failed collect"
    tis = {ti.task_id: ti for ti in dr.get_task_instances()}
    assert tis["collect_indicators.wait"].state == "failed"
    assert tis["collect_indicators.wait"].try_number == 1, "a failed job is not retried by Airflow"
    assert tis["collect_indicators.cleanup"].state == "success"
    assert tis["train_forecaster.create"].state == "upstream_failed"
    assert fake_k8s.names(NAMESPACE) == [] and len(fake_k8s.deleted) == 1
    assert any("collect_indicators.wait" in m and "INFO-100" in m and "AppFailed" in m for m in messages), messages
