"""The finray DAGs as Airflow parses them: no import errors, schedules, dependencies, timeouts, bodies."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.airflow.conftest import DAGS, REPO, kubernetes_validation

DAG_IDS = {"finray_product_etl", "finray_user_embeddings", "finray_forecast_retrain"}
STEPS = {
    "finray_product_etl": ["collect_products", "embed_products"],
    "finray_user_embeddings": ["embed_users"],
    "finray_forecast_retrain": ["collect_indicators", "train_forecaster"],
}


def test_dagbag_imports_every_dag_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS
    for dag in dagbag.dags.values():
        assert Path(dag.fileloc).parent == DAGS


def test_helper_package_is_not_parsed_as_dags() -> None:
    assert "finray_airflow/" in (DAGS / ".airflowignore").read_text(encoding="utf-8")


def _cron(dag: Any) -> dict[str, Any]:
    from airflow.sdk import CronTriggerTimetable

    assert isinstance(dag.timetable, CronTriggerTimetable), type(dag.timetable)
    return {"expression": dag.timetable.expression, "timezone": str(dag.timetable.timezone)}


def _next_run_local(dag: Any) -> Any:
    """When the scheduler would start the next run, in Seoul time (the core timetable computes it)."""
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    core = coerce_to_core_timetable(dag.timetable)
    info = core.next_dagrun_info(last_automated_data_interval=None,
                                 restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=False))
    return pendulum.instance(info.run_after).in_timezone("Asia/Seoul")


def test_product_etl_runs_daily_at_three_in_seoul(dagbag: Any) -> None:
    dag = dagbag.dags["finray_product_etl"]
    assert _cron(dag) == {"expression": "0 3 * * *", "timezone": "Asia/Seoul"}
    local = _next_run_local(dag)
    assert (local.hour, local.minute) == (3, 0)
    assert dag.catchup is False and dag.max_active_runs == 1


def test_forecast_retrain_runs_weekly_on_monday_morning_in_seoul(dagbag: Any) -> None:
    import pendulum

    dag = dagbag.dags["finray_forecast_retrain"]
    assert _cron(dag) == {"expression": "0 4 * * 1", "timezone": "Asia/Seoul"}
    local = _next_run_local(dag)
    assert (local.day_of_week, local.hour, local.minute) == (pendulum.MONDAY, 4, 0)


def test_user_embeddings_run_after_each_successful_product_embedding(dagbag: Any) -> None:
    from finray_airflow.assets import PRODUCT_VECTORS

    users = dagbag.dags["finray_user_embeddings"]
    assert "AssetTriggeredTimetable" in type(users.timetable).__name__
    assert list(users.timetable.asset_condition.objects) == [PRODUCT_VECTORS]
    producers = [(d.dag_id, t.task_id) for d in dagbag.dags.values() for t in d.tasks
                 if any(getattr(o, "uri", None) == PRODUCT_VECTORS.uri for o in t.outlets)]
    assert producers == [("finray_product_etl", "embed_products.wait")], producers


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_each_step_is_create_wait_cleanup_and_steps_run_in_order(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    jobs = STEPS[dag_id]
    assert {t.task_id for t in dag.tasks} == {f"{j}.{s}" for j in jobs for s in ("create", "wait", "cleanup")}
    for job in jobs:
        create, wait, cleanup = (dag.get_task(f"{job}.{s}") for s in ("create", "wait", "cleanup"))
        assert create.is_setup and cleanup.is_teardown and not wait.is_setup and not wait.is_teardown
        assert wait.task_id in create.downstream_task_ids and cleanup.task_id in wait.downstream_task_ids
        assert create.task_id in cleanup.upstream_task_ids
    for first, second in zip(jobs, jobs[1:]):
        nxt = dag.get_task(f"{second}.create")
        assert nxt.upstream_task_ids == {f"{first}.wait"}, "the next job starts when the previous one succeeded"


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_timeouts_retries_and_alerts(dagbag: Any, dag_id: str) -> None:
    from k8s import rayjob_manifest

    from finray_airflow.alerts import notify_slack_on_failure

    dag = dagbag.dags[dag_id]
    total = timedelta()
    for job in STEPS[dag_id]:
        deadline = rayjob_manifest("prod", job)["spec"]["activeDeadlineSeconds"]
        for suffix in ("create", "cleanup"):
            t = dag.get_task(f"{job}.{suffix}")
            assert t.execution_timeout == timedelta(minutes=5) and t.retries == 3
        wait = dag.get_task(f"{job}.wait")
        assert wait.mode == "reschedule", "a waiting sensor must not hold a worker slot"
        assert wait.timeout == deadline + 1800, "activeDeadlineSeconds + FINRAY_RAYJOB_STARTUP_S"
        assert wait.execution_timeout == timedelta(minutes=5) and wait.poke_interval == 1
        total += timedelta(seconds=wait.timeout)
    for t in dag.tasks:
        assert notify_slack_on_failure in (t.on_failure_callback if isinstance(t.on_failure_callback, list)
                                           else [t.on_failure_callback]), t.task_id
    assert dag.dagrun_timeout == total + timedelta(hours=1)


def _committed_rayjob(job: str) -> dict[str, Any]:
    path = REPO / "k8s" / "rendered" / "prod" / "rayjobs" / f"{job.replace('_', '-')}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_rayjob_bodies_are_the_committed_manifests_and_valid(dagbag: Any, dag_id: str) -> None:
    from finray_airflow.rayjob import body_for_run

    dag = dagbag.dags[dag_id]
    for job in STEPS[dag_id]:
        create = dag.get_task(f"{job}.create")
        assert create.rayjob == _committed_rayjob(job), "DAG and k8s/rendered/ must come from the same renderer"
        assert create.rayjob["spec"]["entrypoint"] == f"python -m data_jobs {job}"
        body = body_for_run(create.rayjob, dag_id=dag_id, run_id="scheduled__2026-11-23T18:00:00+00:00",
                            task_id=create.task_id, try_number=2)
        assert kubernetes_validation(body) == [], "the body the DAG POSTs (with run labels) must be valid"
        assert "finray.io/airflow-run" not in create.rayjob["metadata"]["labels"], "template must stay untouched"


def test_dags_follow_FINRAY_K8S_ENV_and_reject_unknown_ones(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("FINRAY_K8S_ENV", "staging")
    staging = DagBag(dag_folder=str(DAGS / "finray_user_embeddings.py"))
    body = staging.dags["finray_user_embeddings"].get_task("embed_users.create").rayjob
    assert body["metadata"]["namespace"] == "finray-staging"
    monkeypatch.setenv("FINRAY_K8S_ENV", "qa")
    broken = DagBag(dag_folder=str(DAGS / "finray_user_embeddings.py"))
    assert not broken.dags
    (error,) = broken.import_errors.values()
    assert "FINRAY_K8S_ENV: expected one of dev, staging, prod, got 'qa'" in error
    monkeypatch.setenv("FINRAY_K8S_ENV", "prod")
    monkeypatch.setenv("FINRAY_RAYJOB_POKE_S", "soon")
    (error,) = DagBag(dag_folder=str(DAGS / "finray_user_embeddings.py")).import_errors.values()
    assert "FINRAY_RAYJOB_POKE_S: expected a number, got 'soon'" in error


def test_requirements_pin_airflow_3_3_and_the_cncf_provider() -> None:
    reqs = (DAGS / "requirements.txt").read_text(encoding="utf-8")
    assert "apache-airflow==3.3." in reqs and "apache-airflow-providers-cncf-kubernetes" in reqs
    assert "kubernetes<37" in reqs.replace(" ", "")
    import airflow

    assert airflow.__version__.startswith("3.3."), airflow.__version__
