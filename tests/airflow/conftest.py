"""Airflow DAG tests: they run in Airflow's own venv (``.venv-airflow``, ``make test``), not the Ray venv.

In the Ray venv Airflow is not installed and this directory is skipped from collection (the main
``pytest`` run). In the Airflow venv, ``make test`` runs ``pytest --confcutdir=tests/airflow
tests/airflow`` so the Ray-side ``tests/conftest.py`` is not loaded. Airflow reads its
configuration at import time, so ``AIRFLOW_HOME`` (a fresh temporary directory, with its own
SQLite DB) and the DAG folder are set here, before anything imports it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "airflow_dags"

if importlib.util.find_spec("airflow") is None:
    collect_ignore_glob = ["test_*.py"]  # the Ray venv: these run in .venv-airflow
else:
    import atexit
    import shutil

    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="finray-airflow-home-")
    atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], ignore_errors=True)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["FINRAY_K8S_ENV"] = "prod"
    os.environ["FINRAY_RAYJOB_POKE_S"] = "1"
    for var in ("SLACK_WEBHOOK_URL", "FINRAY_K8S_CONN_ID", "FINRAY_SLACK_CONN_ID", "FINRAY_RAYJOB_STARTUP_S"):
        os.environ.pop(var, None)
    for path in (str(DAGS), str(REPO)):  # the DAG folder (Airflow adds it too) and the k8s package
        if path not in sys.path:
            sys.path.insert(0, path)


import json  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

NAMESPACE = "finray"  # k8s/environments.py PROD


def kubernetes_validation(obj: dict[str, Any]) -> list[str]:
    """What the API server (CRD schema, strict) and KubeRay (semantic rules) would reject."""
    from k8s import crd_schemas, kuberay_rules

    return crd_schemas.schema_errors(obj) + kuberay_rules.check(obj)


@pytest.fixture
def fake_k8s(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A loopback Kubernetes API for RayJobs, wired in as Airflow's ``kubernetes_default`` connection."""
    from tests.fakes.kubernetes_api import FakeKubernetesApi

    with FakeKubernetesApi(namespaces={NAMESPACE}, validate=kubernetes_validation) as api:
        conn = {"conn_type": "kubernetes", "extra": {"kube_config": api.kubeconfig(NAMESPACE)}}
        monkeypatch.setenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", json.dumps(conn))
        yield api


@pytest.fixture(scope="session")
def dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated SQLite metadata DB in the temporary AIRFLOW_HOME (for ``dag.test()``)."""
    out = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                         timeout=300, env=os.environ.copy())
    assert out.returncode == 0, out.stderr[-2000:]
