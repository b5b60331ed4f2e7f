"""Deployment settings of the finray DAGs, read from the Airflow workers' environment.

=============================  ======================================================  ===========
variable                       meaning                                                 default
=============================  ======================================================  ===========
``FINRAY_K8S_ENV``             which ``k8s/environments.py`` environment to run        ``dev``
``FINRAY_K8S_CONN_ID``         Airflow connection to the Kubernetes cluster            ``kubernetes_default``
``FINRAY_RAYJOB_POKE_S``       seconds between RayJob status checks (reschedule mode)  ``60``
``FINRAY_RAYJOB_STARTUP_S``    allowance for pulling images and starting the cluster   ``1800``
``SLACK_WEBHOOK_URL``          Slack incoming webhook for failure alerts               (unset)
``FINRAY_SLACK_CONN_ID``       or an Airflow connection holding it (password or host)  ``finray_slack``
=============================  ======================================================  ===========

Read at DAG parse time (cheap, no network), so a wrong value is a DAG import error that names
the variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


class DagSettingsError(ValueError):
    """A deployment setting is wrong; the message names the variable."""


@dataclass(frozen=True)
class DagSettings:
    k8s_env: str
    kubernetes_conn_id: str
    poke_interval_s: float
    startup_allowance_s: int
    slack_conn_id: str


def _number(name: str, default: str, cast: type) -> float | int:
    raw = os.environ.get(name, default)
    try:
        value = cast(raw)
    except ValueError:
        raise DagSettingsError(f"{name}: expected a number, got {raw!r}") from None
    if value <= 0:
        raise DagSettingsError(f"{name}: must be positive, got {raw!r}")
    return value


def load() -> DagSettings:
    from k8s import ENVIRONMENTS

    env = os.environ.get("FINRAY_K8S_ENV", "dev")
    if env not in ENVIRONMENTS:
        raise DagSettingsError(f"FINRAY_K8S_ENV: expected one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    return DagSettings(
        k8s_env=env,
        kubernetes_conn_id=os.environ.get("FINRAY_K8S_CONN_ID", "kubernetes_default"),
        poke_interval_s=float(_number("FINRAY_RAYJOB_POKE_S", "60", float)),
        startup_allowance_s=int(_number("FINRAY_RAYJOB_STARTUP_S", "1800", int)),
        slack_conn_id=os.environ.get("FINRAY_SLACK_CONN_ID", "finray_slack"),
    )
