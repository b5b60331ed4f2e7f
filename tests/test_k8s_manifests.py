"""KubeRay manifests: current, valid against the v1.7.0 CRDs (strictly), and KubeRay would accept them.

Runs in the Ray venv: the Serve config is parsed by Ray's own ``ServeDeploySchema`` and its import
paths are imported; job entry points are checked against the ``data_jobs`` CLI. The real-cluster
test (server-side dry run) is opt-in with ``FINRAY_TEST_K8S=1`` and a ``KUBECONFIG``.
"""

from __future__ import annotations

import ast
import copy
import importlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8s import crd_schemas, kuberay_rules, manifests, render
from k8s.dashboard import FINRAY_METRICS, SERVE_METRICS, SERVE_TAGS, dashboard
from k8s.environments import (
    CONFIGMAP_NAME,
    ENVIRONMENTS,
    RAY_VERSION,
    SECRET_KEYS,
    SECRET_NAME,
    get_environment,
)
from k8s.jobs import DATA_JOBS
from k8s.serve_config import SERVE_CONFIG_PATH, SERVE_PORT, ServeConfigError, for_cluster, load_local

REPO = Path(__file__).resolve().parent.parent
RENDERED = REPO / "k8s" / "rendered"
SHARED_CRDS = REPO.parent / "shared" / "kuberay-crds"
ISSUE_JOBS = {"collect_products", "embed_products", "embed_users", "collect_indicators", "train_forecaster"}


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _rendered(env: str) -> dict[str, dict[str, Any]]:
    base = RENDERED / env
    return {str(p.relative_to(base)): _load(p) for p in sorted(base.rglob("*.yaml"))}


def _custom_resources() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{env}/{rel}", obj) for env in ENVIRONMENTS for rel, obj in _rendered(env).items()
            if obj["kind"] in ("RayJob", "RayService")]


def _cluster_specs(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["rayClusterConfig"] if obj["kind"] == "RayService" else obj["spec"]["rayClusterSpec"]


def _groups(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    spec = _cluster_specs(obj)
    return [("head", spec["headGroupSpec"])] + [("worker", w) for w in spec["workerGroupSpecs"]]


def _containers(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(node, c) for node, g in _groups(obj) for c in g["template"]["spec"]["containers"]]


def _rayjob(env: str = "prod", job: str = "collect_products") -> dict[str, Any]:
    return manifests.rayjob(get_environment(env), job)


def _rayservice(env: str = "prod") -> dict[str, Any]:
    return _load(RENDERED / env / "30-rayservice.yaml")


# --- the committed YAML is what the renderer produces ----------------------------------------------

@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_committed_manifests_are_current(env: str) -> None:
    problems = render.check(env)
    assert problems == [], f"stale rendered manifests; run `python -m k8s render --env {env}`:\n" + "\n".join(problems)


def test_check_command_passes_on_the_committed_tree() -> None:
    out = subprocess.run([sys.executable, "-m", "k8s", "render", "--env", "all", "--check"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_check_reports_stale_missing_and_leftover_files(tmp_path: Path) -> None:
    shutil.copytree(RENDERED, tmp_path / "rendered")
    out = tmp_path / "rendered"
    assert render.check("dev", out) == []
    (out / "dev" / "30-rayservice.yaml").write_text("# edited by hand\n", encoding="utf-8")
    (out / "dev" / "rayjobs" / "embed-users.yaml").unlink()
    (out / "dev" / "rayjobs" / "old-job.yaml").write_text("kind: RayJob\n", encoding="utf-8")
    problems = "\n".join(render.check("dev", out))
    assert "30-rayservice.yaml: stale" in problems
    assert "embed-users.yaml: missing" in problems
    assert "old-job.yaml: no longer rendered" in problems
    render.write("dev", out)  # writing repairs all three
    assert render.check("dev", out) == []
    assert not (out / "dev" / "rayjobs" / "old-job.yaml").exists()


def test_check_command_fails_on_a_stale_tree(tmp_path: Path) -> None:
    shutil.copytree(RENDERED, tmp_path / "rendered")
    (tmp_path / "rendered" / "prod" / "40-podmonitor.yaml").write_text("# stale\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "k8s", "render", "--env", "prod", "--dir", str(tmp_path / "rendered")]
    out = subprocess.run([*cmd, "--check"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "40-podmonitor.yaml: stale" in out.stderr and "python -m k8s render --env prod" in out.stderr
    assert subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=120).returncode == 0
    assert subprocess.run([*cmd, "--check"], cwd=REPO, capture_output=True, timeout=120).returncode == 0


def test_a_changed_serve_config_makes_the_committed_rayservice_stale(tmp_path: Path) -> None:
    cfg = load_local()
    cfg["applications"][0]["deployments"][0]["max_ongoing_requests"] += 1
    changed = tmp_path / "serve_config.yaml"
    changed.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    texts = render.render_texts("prod", serve_config=changed)
    committed = (RENDERED / "prod" / "30-rayservice.yaml").read_text(encoding="utf-8")
    assert texts[Path("prod/30-rayservice.yaml")] != committed


def test_render_command_rejects_an_unknown_environment() -> None:
    out = subprocess.run([sys.executable, "-m", "k8s", "render", "--env", "qa"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "invalid choice: 'qa'" in out.stderr


# --- CRD schemas ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,obj", _custom_resources(), ids=[n for n, _ in _custom_resources()])
def test_custom_resources_validate_against_the_strict_crd_schema(name: str, obj: dict[str, Any]) -> None:
    assert crd_schemas.schema_errors(obj) == []


@pytest.mark.parametrize("mutate,where", [
    (lambda o: o["spec"].update(shutdownAfterJobFinish=True), "spec"),
    (lambda o: o["spec"]["rayClusterSpec"]["headGroupSpec"].update(replicas=1), "spec.rayClusterSpec.headGroupSpec"),
    (lambda o: o["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0].update(imagePullPolicyy="Always"),
     "containers.0"),
    (lambda o: o["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]["limits"].update(cpu=[2]),
     "resources.limits.cpu"),
    (lambda o: o["spec"].update(backoffLimit="1"), "spec.backoffLimit"),
    (lambda o: o.update(status2={}), "<root>"),
])
def test_strict_schema_rejects_unknown_fields_and_wrong_types(mutate: Any, where: str) -> None:
    obj = _rayjob()
    mutate(obj)
    errors = crd_schemas.schema_errors(obj)
    assert errors and any(where in e for e in errors), errors


def test_strict_keeps_preserve_unknown_fields_open_and_closes_everything_else() -> None:
    schema = {"type": "object", "properties": {
        "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": {"type": "string"}}},
        "closed": {"type": "object", "properties": {"b": {"type": "string"}}},
        "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"c": {"type": "integer"}}}},
        "port": {"x-kubernetes-int-or-string": True},
    }}
    s = crd_schemas.strict(schema)
    assert "additionalProperties" not in s["properties"]["open"]
    assert s["properties"]["closed"]["additionalProperties"] is False
    assert s["properties"]["map"]["additionalProperties"]["additionalProperties"] is False
    assert s["properties"]["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert "additionalProperties" not in schema["properties"]["closed"], "strict() must not modify its input"


@pytest.mark.parametrize("kind", sorted(crd_schemas.CRDS))
def test_every_object_with_properties_is_closed_after_strict(kind: str) -> None:
    open_nodes = [path for path, node in crd_schemas.iter_schema_nodes(crd_schemas.strict(crd_schemas.load_schema(kind)))
                  if "properties" in node and "additionalProperties" not in node
                  and not node.get("x-kubernetes-preserve-unknown-fields")]
    assert open_nodes == []


def test_committed_schemas_match_the_kuberay_crds() -> None:
    if not SHARED_CRDS.is_dir():
        pytest.skip(f"{SHARED_CRDS} not present (a fresh clone validates against the committed k8s/schemas/)")
    sources = (REPO / "k8s" / "schemas" / "SOURCES.md").read_text(encoding="utf-8")
    for name, (text, sha) in crd_schemas.extract_all(SHARED_CRDS).items():
        assert (crd_schemas.SCHEMA_DIR / name).read_text(encoding="utf-8") == text, f"{name}: re-run python -m k8s extract-schemas"
        assert sha in sources, f"k8s/schemas/SOURCES.md does not record sha256 {sha} for {name}"
    assert crd_schemas.KUBERAY_VERSION in (SHARED_CRDS / "SOURCES.md").read_text(encoding="utf-8")


def test_schema_license_and_provenance_are_committed() -> None:
    d = REPO / "k8s" / "schemas"
    assert "Apache License" in (d / "LICENSE-Apache-2.0.txt").read_text(encoding="utf-8")
    sources = (d / "SOURCES.md").read_text(encoding="utf-8")
    assert "v1.7.0" in sources and "Apache License, Version 2.0" in sources


# --- KubeRay's semantic rules -----------------------------------------------------------------------

@pytest.mark.parametrize("name,obj", _custom_resources(), ids=[n for n, _ in _custom_resources()])
def test_rendered_resources_pass_kuberay_validation(name: str, obj: dict[str, Any]) -> None:
    assert kuberay_rules.check(obj) == []


def _set(path: str, value: Any) -> Any:
    def apply(o: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = o
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return apply


_DELETE = object()
_HEAD = "spec.rayClusterSpec.headGroupSpec"
_WORKER = "spec.rayClusterSpec.workerGroupSpecs.0"


@pytest.mark.parametrize("mutate,message", [
    (_set("spec.shutdownAfterJobFinishes", False), "ttlSecondsAfterFinished requires shutdownAfterJobFinishes"),
    (lambda o: (o["spec"].update(suspend=True, shutdownAfterJobFinishes=False, ttlSecondsAfterFinished=0)),
     "suspend requires shutdownAfterJobFinishes"),
    (_set("spec.clusterSelector", {"ray.io/cluster": "shared"}), "exactly one of rayClusterSpec or clusterSelector"),
    (_set("spec.rayClusterSpec", _DELETE), "exactly one of rayClusterSpec or clusterSelector"),
    (_set("metadata.generateName", "finray-" + "x" * 40 + "-"), "KubeRay allows 47"),
    (_set("metadata.generateName", "finray_collect-"), "not a DNS-1035 label"),
    (_set("spec.activeDeadlineSeconds", 0), "activeDeadlineSeconds must be a positive integer"),
    (_set("spec.backoffLimit", -1), "backoffLimit must be non-negative"),
    (_set("spec.ttlSecondsAfterFinished", -5), "ttlSecondsAfterFinished must be a non-negative"),
    (lambda o: o["spec"].update(submissionMode="InteractiveMode", backoffLimit=2), "incompatible with InteractiveMode"),
    (_set("spec.submissionMode", "K8sMode"), "submissionMode 'K8sMode'"),
    (_set("spec.runtimeEnvYAML", "pip: [a\n b: ]"), "runtimeEnvYAML is not valid YAML"),
    (_set(f"{_WORKER}.minReplicas", 3), "minReplicas 3 greater than maxReplicas"),
    (_set(f"{_WORKER}.maxReplicas", _DELETE), "must set both minReplicas and maxReplicas"),
    (_set(f"{_HEAD}.resources", {"cpu": "1"}), "resources set in both rayStartParams and resources"),
    (_set(f"{_HEAD}.rayStartParams.labels", "a=b"), "rayStartParams['labels'] is not supported"),
    (_set(f"{_HEAD}.template.spec.containers", []), "headGroupSpec should have at least one container"),
    (_set(f"{_HEAD}.template.spec.containers.0.env", [{"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"}]),
     "RAY_REDIS_ADDRESS is set"),
    (_set("spec.managedBy", "someone-else"), "managedBy must be one of"),
])
def test_kuberay_rules_reject_what_kuberay_rejects(mutate: Any, message: str) -> None:
    obj = _rayjob()
    mutate(obj)
    errors = kuberay_rules.check_rayjob(obj)
    assert any(message in e for e in errors), errors


def test_label_rule_rejects_a_bad_value() -> None:
    obj = _rayjob()
    obj["metadata"]["labels"]["finray.io/job"] = "x" * 64
    assert any("not a valid label value" in e for e in kuberay_rules.check_rayjob(obj))


@pytest.mark.parametrize("mutate,message", [
    (_set("metadata.name", "f" * 48), "KubeRay allows 47"),
    (_set("spec.upgradeStrategy.type", "BlueGreen"), "upgradeStrategy.type 'BlueGreen'"),
    (_set("spec.rayClusterConfig.headGroupSpec.headService", {"metadata": {"name": "mine"}}), "headService.metadata.name"),
    (_set("spec.serveConfigV2", ""), "serveConfigV2 is empty"),
    (_set("spec.rayClusterDeletionDelaySeconds", -1), "rayClusterDeletionDelaySeconds"),
    (_set("metadata.annotations", {"ray.io/initializing-timeout": "soon"}), "initializing-timeout"),
    (_set("spec.upgradeStrategy.type", "NewClusterWithIncrementalUpgrade"), "requires clusterUpgradeOptions"),
])
def test_kuberay_rules_reject_bad_rayservices(mutate: Any, message: str) -> None:
    obj = copy.deepcopy(_rayservice())
    mutate(obj)
    errors = kuberay_rules.check_rayservice(obj)
    assert any(message in e for e in errors), errors


def test_render_refuses_manifests_kuberay_would_reject(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from k8s import jobs

    long = jobs.DataJob("collect_products_from_every_public_source_there_is", "x", 60, 0)
    monkeypatch.setitem(render.DATA_JOBS, long.name, long)
    monkeypatch.setitem(jobs.DATA_JOBS, long.name, long)
    env = get_environment("dev")
    patched = dataclasses.replace(env, jobs={**env.jobs, long.name: env.jobs["collect_products"]})
    with pytest.raises(render.RenderError, match="KubeRay allows 47"):
        render.environment_objects(patched)


def test_names_fit_kuberay_limits() -> None:
    longest = max(DATA_JOBS.values(), key=lambda j: len(j.k8s_name))
    assert len(longest.k8s_name) + 1 + kuberay_rules.GENERATE_NAME_SUFFIX <= kuberay_rules.MAX_RAYJOB_NAME
    assert len(manifests.RAYSERVICE_NAME) <= kuberay_rules.MAX_RAYSERVICE_NAME


# --- RayJobs ----------------------------------------------------------------------------------------

def test_every_issue_job_has_a_rayjob_in_every_environment() -> None:
    assert set(DATA_JOBS) == ISSUE_JOBS
    for env in ENVIRONMENTS:
        files = {rel for rel in _rendered(env) if rel.startswith("rayjobs/")}
        assert files == {f"rayjobs/{j.replace('_', '-')}.yaml" for j in ISSUE_JOBS}, env


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_rayjob_lifecycle_fields(env: str) -> None:
    for rel, obj in _rendered(env).items():
        if obj["kind"] != "RayJob":
            continue
        spec = obj["spec"]
        job = obj["metadata"]["labels"]["finray.io/job"]
        assert spec["entrypoint"] == f"python -m data_jobs {job}", rel
        assert spec["shutdownAfterJobFinishes"] is True
        assert spec["ttlSecondsAfterFinished"] > 0
        assert spec["activeDeadlineSeconds"] == DATA_JOBS[job].active_deadline_seconds > 0
        assert spec["backoffLimit"] == DATA_JOBS[job].backoff_limit >= 0
        assert spec["submissionMode"] == "K8sJobMode"
        assert "clusterSelector" not in spec and spec["rayClusterSpec"]["rayVersion"] == RAY_VERSION
        assert obj["metadata"]["generateName"] == DATA_JOBS[job].k8s_name + "-"
        assert obj["metadata"]["namespace"] == get_environment(env).namespace


def _entrypoint_jobs() -> set[str]:
    jobs = set()
    for env in ENVIRONMENTS:
        for obj in _rendered(env).values():
            if obj["kind"] == "RayJob":
                m = re.fullmatch(r"python -m data_jobs (\w+)", obj["spec"]["entrypoint"])
                assert m, obj["spec"]["entrypoint"]
                jobs.add(m.group(1))
    return jobs


def test_every_job_the_manifests_run_is_a_registered_cli_job() -> None:
    from data_jobs.cli import JOBS, build_parser

    missing = sorted(_entrypoint_jobs() - set(JOBS))
    assert not missing, (f"RayJobs run `python -m data_jobs <job>` for {missing}, which data_jobs/cli.py "
                         f"does not register (JOBS has {sorted(JOBS)})")
    for job in _entrypoint_jobs():
        assert build_parser().parse_args([job]).job == job


def test_every_job_entry_point_module_has_a_run_function() -> None:
    for job in _entrypoint_jobs():
        path = REPO / "data_jobs" / f"{job}.py"
        assert path.is_file(), f"{path} missing for job {job}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert any(isinstance(n, ast.FunctionDef) and n.name == "run" for n in tree.body), f"{path}: no run()"


# --- RayService and the Serve config ----------------------------------------------------------------

@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_rayservice_shape(env: str) -> None:
    obj = _rayservice(env)
    cluster = obj["spec"]["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True and cluster["rayVersion"] == RAY_VERSION
    (worker,) = cluster["workerGroupSpecs"]
    e = get_environment(env)
    assert (worker["minReplicas"], worker["maxReplicas"]) == (e.serve_workers.min_replicas, e.serve_workers.max_replicas)
    assert worker["minReplicas"] < worker["maxReplicas"], "an autoscaling group needs room to scale"
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"


def test_serve_config_v2_is_a_valid_ray_serve_config_with_importable_apps() -> None:
    from ray.serve.schema import ServeDeploySchema

    for env in ENVIRONMENTS:
        cfg = yaml.safe_load(_rayservice(env)["spec"]["serveConfigV2"])
        schema = ServeDeploySchema.model_validate(cfg)
        assert schema.http_options.host == "0.0.0.0" and schema.http_options.port == SERVE_PORT
        for app in schema.applications:
            module, _, attr = app.import_path.partition(":")
            assert getattr(importlib.import_module(module), attr) is not None, app.import_path


def test_serve_config_v2_differs_from_the_local_file_only_where_the_cluster_needs_it() -> None:
    local = load_local()
    cluster = yaml.safe_load(_rayservice("prod")["spec"]["serveConfigV2"])
    assert cluster == for_cluster(local)
    trimmed = {k: v for k, v in cluster.items() if k != "http_options"}
    assert trimmed == {k: v for k, v in local.items() if k != "http_options"}
    rest = {k: v for k, v in cluster["http_options"].items() if k not in ("host", "port")}
    assert rest == {k: v for k, v in (local.get("http_options") or {}).items() if k not in ("host", "port")}


def test_serve_port_matches_the_containers_and_probes() -> None:
    obj = _rayservice("prod")
    for node, c in _containers(obj):
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports["serve"] == SERVE_PORT, node
    worker = obj["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    check = " ".join(worker["readinessProbe"]["exec"]["command"])
    assert f"localhost:{SERVE_PORT}/-/healthz" in check and worker["readinessProbe"]["failureThreshold"] == 1


def test_for_cluster_rejects_a_local_working_dir() -> None:
    cfg = load_local()
    cfg["applications"][0]["runtime_env"] = {"working_dir": "./serve_apps"}
    with pytest.raises(ServeConfigError, match="working_dir"):
        for_cluster(cfg)
    cfg["applications"][0]["runtime_env"] = {"working_dir": "s3://bucket/finray.zip"}
    assert for_cluster(cfg)["applications"][0]["runtime_env"]["working_dir"].startswith("s3://")


def test_serve_config_path_is_the_one_make_up_deploys() -> None:
    assert "serve_apps/serve_config.yaml" in (REPO / "Makefile").read_text(encoding="utf-8")
    assert SERVE_CONFIG_PATH == REPO / "serve_apps" / "serve_config.yaml"


# --- pods: image, resources, probes, settings, secrets ---------------------------------------------

@pytest.mark.parametrize("name,obj", _custom_resources(), ids=[n for n, _ in _custom_resources()])
def test_pods_are_pinned_sized_probed_and_configured(name: str, obj: dict[str, Any]) -> None:
    env = get_environment(name.split("/")[0])
    for node, c in _containers(obj):
        assert c["image"] == env.image and not c["image"].endswith(":latest")
        res = c["resources"]
        for k in ("cpu", "memory"):
            assert res["requests"][k] == res["limits"][k], (name, node, k)
        assert c["livenessProbe"] and c["readinessProbe"]
        assert c.get("env") is None, "settings come from the ConfigMap and Secret only"
        assert c["envFrom"] == [{"configMapRef": {"name": CONFIGMAP_NAME}},
                                {"secretRef": {"name": SECRET_NAME, "optional": env.secret_optional}}]
        assert {p["name"]: p["containerPort"] for p in c["ports"]}["metrics"] == 8080


def test_image_tags_are_pinned_to_the_project_and_ray_versions() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    ray_pin = next(d for d in project["dependencies"] if d.startswith("ray["))
    assert ray_pin.endswith(f"=={RAY_VERSION}")
    for env in ENVIRONMENTS.values():
        assert re.fullmatch(rf"{re.escape(project['version'])}-ray{re.escape(RAY_VERSION)}", env.image_tag), env.name


def test_dockerfile_matches_the_manifests_and_pyproject() -> None:
    text = (REPO / "k8s" / "Dockerfile").read_text(encoding="utf-8")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    py = re.search(r">=(\d+)\.(\d+)", project["requires-python"]).groups()
    assert base == f"rayproject/ray:{RAY_VERSION}-py{''.join(py)}-cpu"
    torch_pin = next(d for d in project["optional-dependencies"]["forecast"] if d.startswith("torch"))
    assert re.search(rf"\b{re.escape(torch_pin)}\b", text), "Dockerfile installs a different torch than pyproject"
    assert '".[forecast]"' in text, "train_forecaster needs the forecast extra in the image"
    ignore = (REPO / "k8s" / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    for src in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, re.M):
        for item in src.split():
            assert (REPO / item).exists(), f"COPY source {item} missing"
            assert f"!{item}" in ignore or f"!{item}/" in ignore, f"{item} excluded by Dockerfile.dockerignore"


def _settings_fields() -> dict[str, Any]:
    """``{env var: pydantic field}`` for every setting finray reads."""
    from finray.config import Settings

    out = {}
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        for name in getattr(alias, "choices", None) or [alias]:
            out[str(name)] = field
    return out


def _names_read_in_code() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for d in ("finray", "data_jobs", "serve_apps")
                     for p in (REPO / d).rglob("*.py"))


#: Settings whose value is a credential even though it is typed as a plain string (URLs with passwords).
_CREDENTIAL_URLS = {"MONGODB_URI", "REDIS_URL", "FINRAY_USER_DB_URL", "SLACK_WEBHOOK_URL"}


def _secret_settings() -> set[str]:
    from pydantic import SecretStr

    fields = _settings_fields()
    typed = {name for name, f in fields.items() if "SecretStr" in repr(f.annotation) or f.annotation is SecretStr}
    named = {name for name in fields if re.search(r"(_API_KEY|_SECRET|_TOKEN|_PASSWORD)$", name)}
    return typed | named | (_CREDENTIAL_URLS & set(fields))


def test_every_credential_setting_is_a_secret_key() -> None:
    secret = _secret_settings()
    assert {"AUTH_JWT_SECRET", "GOOGLE_API_KEY", "MONGODB_URI"} <= secret  # the classifier sees them
    assert secret <= set(SECRET_KEYS), f"add to k8s/environments.py SECRET_KEYS: {sorted(secret - set(SECRET_KEYS))}"


def test_configmap_carries_only_known_non_secret_settings() -> None:
    fields = _settings_fields()
    code = _names_read_in_code()
    secret = _secret_settings() | set(SECRET_KEYS)
    for env in ENVIRONMENTS.values():
        data = manifests.settings_configmap(env)["data"]
        for key, value in data.items():
            assert key in fields or f'"{key}"' in code, f"{env.name}: ConfigMap key {key} is read nowhere"
            assert key not in secret, f"{env.name}: {key} is a credential; it belongs in the Secret"
            assert not re.search(r"://[^/\s]*:[^/\s]*@", value), f"{env.name}: {key} embeds credentials"


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_configmap_plus_secret_keys_make_valid_settings(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from finray.config import SettingsError, load_settings

    for var in list(os.environ):
        if var.startswith(("FINRAY_", "MONGODB_", "GEMINI_")) or var in SECRET_KEYS:
            monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(REPO / "k8s")  # no developer .env
    data = manifests.settings_configmap(get_environment(env))["data"]
    for k, v in data.items():
        monkeypatch.setenv(k, v)
    if not get_environment(env).secret_optional:
        with pytest.raises(SettingsError, match=r"^[A-Z_]+: "):
            load_settings()  # a missing Secret stops start-up with one line naming the variable
        placeholders = {"MONGODB_URI": "mongodb+srv://user:pw@cluster.example/", "REDIS_URL": "redis://redis:6379/0",
                        "FINRAY_USER_DB_URL": "mysql+pymysql://reader:pw@mysql/finray",
                        "SLACK_WEBHOOK_URL": "https://hooks.slack.invalid/T/B/x",
                        "AUTH_JWT_SECRET": secrets.token_urlsafe(48)}
        for key in SECRET_KEYS:
            monkeypatch.setenv(key, placeholders.get(key, secrets.token_hex(16)))
    s = load_settings()
    assert str(s.home) == data["FINRAY_HOME"]


def test_no_secret_values_anywhere_in_the_rendered_tree() -> None:
    for path in RENDERED.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "kind: Secret\n" not in text, path
            for key in SECRET_KEYS:
                assert not re.search(rf"\b{key}\b\s*[:=]\s*\S", text), f"{path}: a value for {key}"


# --- monitoring -------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_podmonitor_selects_every_ray_pod_and_its_metrics_port(env: str) -> None:
    files = _rendered(env)
    pm = files["40-podmonitor.yaml"]
    assert pm["apiVersion"] == "monitoring.coreos.com/v1" and pm["kind"] == "PodMonitor"
    assert pm["spec"]["namespaceSelector"]["matchNames"] == [get_environment(env).namespace]
    match = pm["spec"]["selector"]["matchLabels"]
    ports = {e["port"] for e in pm["spec"]["podMetricsEndpoints"]}
    assert "metrics" in ports
    for rel, obj in files.items():
        if obj["kind"] in ("RayJob", "RayService"):
            for node, group in _groups(obj):
                labels = group["template"]["metadata"]["labels"]
                assert match.items() <= labels.items(), (rel, node)
                names = {p["name"] for c in group["template"]["spec"]["containers"] for p in c["ports"]}
                assert "metrics" in names, (rel, node)


_METRIC = re.compile(r"\b(ray_[a-z0-9_]+)")


def test_dashboard_queries_only_known_metrics_and_is_committed() -> None:
    d = dashboard()
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)) >= 8
    known = set(SERVE_METRICS) | {m.exported for m in FINRAY_METRICS}
    used = {m for p in d["panels"] for t in p["targets"] for m in _METRIC.findall(t["expr"])}
    assert used <= known, used - known
    assert {m.exported for m in FINRAY_METRICS} <= used, "an expected finray metric has no panel"
    committed = json.loads((RENDERED / "grafana" / "finray-serve.json").read_text(encoding="utf-8"))
    assert committed == d
    for env in ENVIRONMENTS:
        cm = _rendered(env)["50-grafana-dashboard-configmap.yaml"]
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(cm["data"][manifests.DASHBOARD_FILE]) == d


def test_serve_metric_names_exist_in_ray() -> None:
    import ray

    source = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                       for p in (Path(ray.__file__).parent / "serve" / "_private").rglob("*.py"))
    for metric in SERVE_METRICS:
        base = re.sub(r"_(total|bucket)$", "", metric.removeprefix("ray_"))
        templated = base.replace("_http_", "_{protocol_name}_")
        assert f'"{base}"' in source or f'"{templated}"' in source or f'f"{templated}"' in source, metric


_DECLARATION = re.compile(
    r"metrics\.(Counter|Histogram|Gauge)\(\s*[\"'](finray_[a-z0-9_]+)[\"'](.*?)tag_keys=\(([^)]*)\)", re.S)


def test_finray_metrics_match_what_the_serve_code_declares() -> None:
    declared = {name: (kind, tuple(re.findall(r"[\"'](\w+)[\"']", tags)))
                for kind, name, _, tags in _DECLARATION.findall(_names_read_in_code())}
    if not declared:
        pytest.skip("the Serve code declares no finray_* metrics yet; the dashboard expects "
                    + ", ".join(f"{m.kind}({m.name!r}, tag_keys={m.tag_keys})" for m in FINRAY_METRICS))
    expected = {m.name: (m.kind, m.tag_keys) for m in FINRAY_METRICS}
    assert declared == expected, "k8s/dashboard.py FINRAY_METRICS and the Serve code disagree"


def test_dashboard_groups_only_by_labels_the_metrics_carry() -> None:
    tags = {m.exported: set(m.tag_keys) | set(SERVE_TAGS) | {"le"} for m in FINRAY_METRICS}
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            for metric in set(_METRIC.findall(target["expr"])) & set(tags):
                for group in re.findall(r"by \(([^)]*)\)", target["expr"]):
                    labels = {g.strip() for g in group.split(",")}
                    assert labels <= tags[metric], (panel["title"], labels - tags[metric])


# --- the renderer needs only PyYAML ----------------------------------------------------------------

def test_k8s_package_imports_and_renders_without_ray_or_finray() -> None:
    code = (
        "import sys, k8s, k8s.render as r\n"
        "r.render_texts('prod'); k8s.rayjob_manifest('dev', 'embed_users')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'ray','finray','pydantic','jsonschema','data_jobs','serve_apps'})\n"
        "print(heavy); sys.exit(1 if heavy else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


# --- opt-in: a real cluster -------------------------------------------------------------------------

def _kubectl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.integration
def test_server_side_dry_run_against_a_real_cluster() -> None:
    if os.environ.get("FINRAY_TEST_K8S") != "1" or not os.environ.get("KUBECONFIG"):
        pytest.skip("set FINRAY_TEST_K8S=1 and KUBECONFIG to dry-run the manifests on a real cluster")
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not on PATH")
    env = get_environment(os.environ.get("FINRAY_TEST_K8S_ENV", "dev"))
    if _kubectl("get", "crd", "rayjobs.ray.io", "rayservices.ray.io").returncode != 0:
        pytest.skip("the KubeRay CRDs are not installed on this cluster")
    if _kubectl("get", "namespace", env.namespace).returncode != 0:
        pytest.skip(f"namespace {env.namespace} does not exist; create it to dry-run namespaced objects")
    d = RENDERED / env.name
    files = [p for p in sorted(d.glob("*.yaml"))]
    if _kubectl("get", "crd", "podmonitors.monitoring.coreos.com").returncode != 0:
        files = [p for p in files if "podmonitor" not in p.name]
    for f in files:
        out = _kubectl("apply", "--dry-run=server", "--validate=strict", "-f", str(f))
        assert out.returncode == 0, f"{f}: {out.stderr}"
    for f in sorted((d / "rayjobs").glob("*.yaml")):
        out = _kubectl("create", "--dry-run=server", "--validate=strict", "-f", str(f))
        assert out.returncode == 0, f"{f}: {out.stderr}"
