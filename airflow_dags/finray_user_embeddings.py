"""``finray_user_embeddings``: after each successful product ETL, refresh user personas and vectors.

Scheduled on the ``finray_product_vectors`` asset: it starts when ``finray_product_etl``'s
embed_products step succeeds — so daily, right after the ETL, and never concurrently with it
(both want the cluster's CPUs). A day whose ETL fails skips this run too; the ETL failure has
already alerted Slack, and a manual trigger runs it on its own.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from finray_airflow import settings
from finray_airflow.assets import PRODUCT_VECTORS
from finray_airflow.steps import dagrun_timeout, default_args, rayjob_step

SETTINGS = settings.load()

with DAG(
    dag_id="finray_user_embeddings",
    description="embed_users on KubeRay, after the product ETL",
    schedule=[PRODUCT_VECTORS],
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["finray", "kuberay", "data-jobs"],
    doc_md=__doc__,
) as dag:
    users = rayjob_step("embed_users", SETTINGS)
    dag.dagrun_timeout = dagrun_timeout([users])
