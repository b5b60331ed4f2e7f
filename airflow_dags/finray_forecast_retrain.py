"""``finray_forecast_retrain``: every Monday at 04:00 Asia/Seoul, refresh indicators and retrain.

collect_indicators → train_forecaster, each a KubeRay RayJob. The indicators (기준금리, 원/달러,
KOSPI, 국고채, CPI) are monthly, so weekly picks up each new month within days while keeping
training cost low; serving keeps the previous model version until a run succeeds.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable

from finray_airflow import settings
from finray_airflow.assets import FORECAST_MODELS
from finray_airflow.steps import dagrun_timeout, default_args, rayjob_step

SETTINGS = settings.load()

with DAG(
    dag_id="finray_forecast_retrain",
    description="collect_indicators → train_forecaster on KubeRay",
    schedule=CronTriggerTimetable("0 4 * * 1", timezone="Asia/Seoul"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["finray", "kuberay", "riskxpert"],
    doc_md=__doc__,
) as dag:
    indicators = rayjob_step("collect_indicators", SETTINGS)
    train = rayjob_step("train_forecaster", SETTINGS, outlets=[FORECAST_MODELS])
    indicators.wait >> train.create
    dag.dagrun_timeout = dagrun_timeout([indicators, train])
