"""``serveConfigV2``: the Serve config ``make up`` deploys, adapted for the cluster at render time.

The RayService embeds ``serve_apps/serve_config.yaml`` (the file ``serve build`` writes and
``serve deploy`` reads locally) so both run the same applications, deployments, autoscaling and
import paths. Only what *must* differ in a pod is changed, and nothing else:

* ``http_options.host`` → ``0.0.0.0``: locally Serve listens on 127.0.0.1 only; in a pod the
  proxy must accept traffic from the Kubernetes Service and KubeRay's health checks.
* ``http_options.port`` → :data:`SERVE_PORT`, the container port named ``serve`` that KubeRay's
  serve Service and the worker readiness probe target.

Import paths need no change: the image installs the project (``pip install .``), so
``serve_apps.app:app`` imports from site-packages whatever the working directory. A local
``runtime_env.working_dir``/``py_modules`` cannot be shipped to a cluster by KubeRay, so it is
rejected here with a clear error rather than failing inside the cluster.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVE_CONFIG_PATH = REPO_ROOT / "serve_apps" / "serve_config.yaml"
SERVE_PORT = 8000
CLUSTER_HTTP_HOST = "0.0.0.0"


class ServeConfigError(ValueError):
    """The Serve config cannot run on a cluster as written; the message says what to change."""


def load_local(path: Path = SERVE_CONFIG_PATH) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ServeConfigError(f"{path}: Serve config not found") from None
    if not isinstance(data, dict) or not data.get("applications"):
        raise ServeConfigError(f"{path}: expected a Serve config with 'applications' (serve build format)")
    return data


def for_cluster(local: dict[str, Any]) -> dict[str, Any]:
    """The cluster version of a Serve config (see the module docstring for every change)."""
    cfg = copy.deepcopy(local)
    http = dict(cfg.get("http_options") or {})
    http["host"] = CLUSTER_HTTP_HOST
    http["port"] = SERVE_PORT
    cfg["http_options"] = http
    for app in cfg["applications"]:
        env = app.get("runtime_env") or {}
        for key in ("working_dir", "py_modules"):
            value = env.get(key)
            values = value if isinstance(value, list) else [value] if value else []
            local_paths = [v for v in values if isinstance(v, str) and "://" not in v]
            if local_paths:
                raise ServeConfigError(
                    f"application {app.get('name')!r}: runtime_env.{key}={local_paths} is a local path; "
                    "the image already contains the code — remove it or use a remote URI"
                )
    return cfg


def import_paths(cfg: dict[str, Any]) -> list[str]:
    return [app["import_path"] for app in cfg["applications"]]


def serve_config_v2(path: Path = SERVE_CONFIG_PATH) -> str:
    """The ``serveConfigV2`` string: the cluster config as YAML, with where it came from."""
    cfg = for_cluster(load_local(path))
    header = (
        f"# Rendered from {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path} "
        f"by k8s/serve_config.py: http_options.host={CLUSTER_HTTP_HOST}, port={SERVE_PORT}.\n"
    )
    return header + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, default_flow_style=False)
