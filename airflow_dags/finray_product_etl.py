"""``finray_product_etl``: every day at 03:00 Asia/Seoul, collect the product catalogue, then embed it.

collect_products → embed_products, each a KubeRay RayJob (create → wait → cleanup). 03:00 KST is
after the FSS finlife disclosures of the previous business day and before the morning traffic.
A successful embed_products updates the ``finray_product_vectors`` asset, which starts
``finray_user_embeddings``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable

from finray_airflow import settings
from finray_airflow.assets import PRODUCT_VECTORS
from finray_airflow.steps import dagrun_timeout, default_args, rayjob_step

SETTINGS = settings.load()

with DAG(
    dag_id="finray_product_etl",
    description="collect_products → embed_products on KubeRay",
    schedule=CronTriggerTimetable("0 3 * * *", timezone="Asia/Seoul"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["finray", "kuberay", "data-jobs"],
    doc_md=__doc__,
) as dag:
    collect = rayjob_step("collect_products", SETTINGS)
    embed = rayjob_step("embed_products", SETTINGS, outlets=[PRODUCT_VECTORS])
    collect.wait >> embed.create
    dag.dagrun_timeout = dagrun_timeout([collect, embed])
