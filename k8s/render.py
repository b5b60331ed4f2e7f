"""Render an environment to YAML files, write them, or check the committed ones are current.

Layout of ``k8s/rendered/<env>/`` (``kubectl apply -f`` the directory for the long-running part,
``kubectl create -f`` a file under ``rayjobs/`` to run one job by hand)::

    00-namespace.yaml  10-settings-configmap.yaml  20-data-pvc.yaml  30-rayservice.yaml
    40-podmonitor.yaml  50-grafana-dashboard-configmap.yaml  rayjobs/<job>.yaml

plus ``k8s/rendered/grafana/finray-serve.json`` (the same dashboard, for a manual import).
Rendering refuses to write anything KubeRay would reject (:mod:`k8s.kuberay_rules`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from k8s import kuberay_rules, manifests
from k8s.dashboard import dashboard
from k8s.environments import Environment, get_environment
from k8s.jobs import DATA_JOBS
from k8s.serve_config import SERVE_CONFIG_PATH, serve_config_v2

RENDERED_DIR = Path(__file__).resolve().parent / "rendered"
GRAFANA_JSON = Path("grafana") / manifests.DASHBOARD_FILE


class RenderError(ValueError):
    """A rendered manifest breaks a KubeRay rule; the message lists every problem."""


class _Dumper(yaml.SafeDumper):
    """Block style, and multi-line strings (serveConfigV2, the dashboard) as ``|`` literals."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(obj: Mapping[str, Any], source: str) -> str:
    head = f"# Rendered by `{source}` from k8s/ — do not edit; change k8s/environments.py and re-render.\n"
    return head + yaml.dump(dict(obj), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=200)


def job_file(job: str) -> Path:
    return Path("rayjobs") / f"{job.replace('_', '-')}.yaml"


def environment_objects(env: Environment, serve_config: Path = SERVE_CONFIG_PATH) -> dict[Path, dict[str, Any]]:
    """Every manifest of ``env`` by its path relative to ``k8s/rendered/<env>/``."""
    objs: dict[Path, dict[str, Any]] = {
        Path("00-namespace.yaml"): manifests.namespace(env),
        Path("10-settings-configmap.yaml"): manifests.settings_configmap(env),
        Path("20-data-pvc.yaml"): manifests.data_pvc(env),
        Path("30-rayservice.yaml"): manifests.rayservice(env, serve_config_v2(serve_config)),
        Path("40-podmonitor.yaml"): manifests.podmonitor(env),
        Path("50-grafana-dashboard-configmap.yaml"): manifests.dashboard_configmap(env, dashboard()),
    }
    for name in DATA_JOBS:
        objs[job_file(name)] = manifests.rayjob(env, name)
    problems = [f"{path}: {err}" for path, obj in objs.items() for err in kuberay_rules.check(obj)]
    if problems:
        raise RenderError(f"{env.name}: KubeRay would reject the manifests:\n  " + "\n  ".join(problems))
    return objs


def render_texts(env_name: str, serve_config: Path = SERVE_CONFIG_PATH) -> dict[Path, str]:
    """``{path relative to k8s/rendered/: text}`` for one environment (and the shared dashboard)."""
    env = get_environment(env_name)
    source = f"python -m k8s render --env {env.name}"
    texts = {Path(env.name) / p: to_yaml(o, source) for p, o in environment_objects(env, serve_config).items()}
    texts[GRAFANA_JSON] = json.dumps(dashboard(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    return texts


def write(env_name: str, out_dir: Path = RENDERED_DIR) -> list[Path]:
    """Write one environment's files and remove files the renderer no longer produces."""
    texts = render_texts(env_name)
    env_dir = out_dir / env_name
    for stale in _existing(env_dir):
        if stale.relative_to(out_dir) not in texts:
            stale.unlink()
    written = []
    for rel, text in texts.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def check(env_name: str, out_dir: Path = RENDERED_DIR) -> list[str]:
    """What differs between the committed files and a fresh render (empty = up to date)."""
    texts = render_texts(env_name)
    problems = []
    for rel, text in texts.items():
        path = out_dir / rel
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: stale")
    for extra in _existing(out_dir / env_name):
        if extra.relative_to(out_dir) not in texts:
            problems.append(f"{extra}: no longer rendered (delete it)")
    return problems


def _existing(env_dir: Path) -> list[Path]:
    return sorted(p for p in env_dir.rglob("*") if p.is_file()) if env_dir.exists() else []
