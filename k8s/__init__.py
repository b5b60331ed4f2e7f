"""KubeRay manifests for finray, rendered from one source of truth per environment.

Importable with PyYAML alone (no Ray, no finray settings), so Airflow's own venv can build the
same RayJob bodies the committed manifests hold::

    from k8s import rayjob_manifest
    body = rayjob_manifest("prod", "collect_products")   # a dict, ready for the Kubernetes API

``python -m k8s render --env prod`` writes ``k8s/rendered/prod/``; ``--check`` fails when the
committed files are stale. See ``k8s/environments.py`` for what differs per environment.
"""

from __future__ import annotations

from typing import Any

from k8s.environments import ENVIRONMENTS, Environment, get_environment
from k8s.jobs import DATA_JOBS, DataJob, get_job


def rayjob_manifest(env: str, job: str) -> dict[str, Any]:
    """The RayJob body for ``job`` in environment ``env`` (``metadata.generateName`` set)."""
    from k8s.manifests import rayjob

    return rayjob(get_environment(env), get_job(job))


__all__ = ["DATA_JOBS", "ENVIRONMENTS", "DataJob", "Environment", "get_environment", "get_job", "rayjob_manifest"]
