"""KubeRay's semantic checks, which a JSON schema cannot express.

The operator runs these on every RayJob/RayService it reconciles and, when one fails, marks the
object ``ValidationFailed`` (RayJob) or just emits an ``InvalidRayServiceSpec`` event — nothing
runs and nothing says so at ``kubectl apply`` time. Checking them at render time turns that into
a failed test. Mirrors ``ray-operator/controllers/ray/utils/validation.go`` (KubeRay v1.7
``ValidateRayJobMetadata``/``ValidateRayJobSpec``/``ValidateRayServiceMetadata``/
``ValidateRayServiceSpec``/``ValidateRayClusterSpec``) and the CRDs' CEL rules; checks that need
feature gates or fields finray never sets are noted, not re-implemented.

Every function returns a list of error strings (empty = valid), so a test can show them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

#: RayCluster names: 63 - len("-serve-svc") = 53 (the longest Service KubeRay derives from them).
MAX_RAYCLUSTER_NAME = 53
#: RayJob/RayService names: KubeRay appends "-" + 5 random characters to name their RayCluster.
MAX_RAYJOB_NAME = MAX_RAYSERVICE_NAME = MAX_RAYCLUSTER_NAME - 6
#: Kubernetes appends 5 random characters to ``metadata.generateName``.
GENERATE_NAME_SUFFIX = 5

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SUBMISSION_MODES = {"K8sJobMode", "HTTPMode", "InteractiveMode", "SidecarMode"}
_UPGRADE_TYPES = {"NewClusterWithIncrementalUpgrade", "NewCluster", "None"}
_MANAGED_BY = {"ray.io/kuberay-operator", "kueue.x-k8s.io/multikueue"}
_CLUSTER_SELECTOR_KEY = "ray.io/cluster"


def check_name(metadata: Mapping[str, Any], kind: str, max_len: int) -> list[str]:
    """``metadata.name`` (or ``generateName`` + 5 characters) is a DNS-1035 label of ``max_len``."""
    name = metadata.get("name")
    gen = metadata.get("generateName")
    if not name and not gen:
        return [f"{kind} metadata: one of name or generateName is required"]
    if name:
        candidate, shown = name, f"name {name!r}"
    else:
        candidate, shown = gen + "a" * GENERATE_NAME_SUFFIX, f"generateName {gen!r} (+{GENERATE_NAME_SUFFIX} random)"
    errors = []
    if len(candidate) > max_len:
        errors.append(f"{kind} {shown}: {len(candidate)} characters, KubeRay allows {max_len}")
    if not _DNS1035.match(candidate):
        errors.append(f"{kind} {shown}: not a DNS-1035 label (lower case, digits, '-', starts with a letter)")
    return errors


def check_labels(labels: Mapping[str, Any] | None, where: str) -> list[str]:
    errors = []
    for key, value in (labels or {}).items():
        prefix, _, name = key.rpartition("/")
        if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
            errors.append(f"{where}: label key {key!r} has an invalid prefix")
        if not name or len(name) > 63 or not _LABEL_NAME.match(name):
            errors.append(f"{where}: label key {key!r} is not a qualified name")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errors.append(f"{where}: label {key}={value!r} is not a valid label value")
    return errors


def _containers(group: Mapping[str, Any]) -> list[dict[str, Any]]:
    return ((group.get("template") or {}).get("spec") or {}).get("containers") or []


def _env_names(container: Mapping[str, Any]) -> dict[str, Any]:
    return {e.get("name"): e.get("value") for e in container.get("env") or []}


def _group_checks(name: str, group: Mapping[str, Any]) -> list[str]:
    errors = []
    params = group.get("rayStartParams") or {}
    if any(params.get(k) for k in ("num-cpus", "num-gpus", "memory", "resources")) and group.get("resources"):
        errors.append(f"{name} group: resources set in both rayStartParams and resources; use only one")
    if "labels" in params:
        errors.append(f"{name} group: rayStartParams['labels'] is not supported; use the group's labels field")
    errors += check_labels(group.get("labels"), f"{name} group labels")
    return errors


def check_raycluster_spec(spec: Mapping[str, Any], annotations: Mapping[str, str] | None = None) -> list[str]:
    """``ValidateRayClusterSpec``: head/worker containers, resources, autoscaling, GCS FT, auth."""
    annotations = annotations or {}
    errors: list[str] = []
    head = spec.get("headGroupSpec") or {}
    head_containers = _containers(head)
    if not head_containers:
        return ["headGroupSpec should have at least one container"]
    errors += _group_checks("Head", head)
    autoscaling = bool(spec.get("enableInTreeAutoscaling"))
    for wg in spec.get("workerGroupSpecs") or []:
        gname = wg.get("groupName", "?")
        if not _containers(wg):
            errors.append(f"worker group {gname}: should have at least one container")
        lo, hi, n = wg.get("minReplicas"), wg.get("maxReplicas"), wg.get("replicas")
        if not autoscaling and (lo is None or hi is None):
            errors.append(f"worker group {gname}: must set both minReplicas and maxReplicas when autoscaling is disabled")
        for field, value in (("minReplicas", lo), ("maxReplicas", hi), ("replicas", n)):
            if value is not None and value < 0:
                errors.append(f"worker group {gname}: negative {field} {value}")
        if lo is not None and hi is not None and lo > hi:
            errors.append(f"worker group {gname}: minReplicas {lo} greater than maxReplicas {hi}")
        if n is not None and lo is not None and hi is not None and not lo <= n <= hi:
            errors.append(f"worker group {gname}: replicas {n} outside [minReplicas {lo}, maxReplicas {hi}]")
        if wg.get("suspend") and autoscaling:
            errors.append(f"worker group {gname}: cannot be suspended with the autoscaler enabled")
        errors += _group_checks(gname, wg)
    head_env = _env_names(head_containers[0])
    params = head.get("rayStartParams") or {}
    gcs_ft = spec.get("gcsFaultToleranceOptions")
    if annotations.get("ray.io/ft-enabled") and gcs_ft is not None:
        errors.append("ray.io/ft-enabled annotation and gcsFaultToleranceOptions are both set; use gcsFaultToleranceOptions")
    gcs_ft_on = gcs_ft is not None or str(annotations.get("ray.io/ft-enabled", "")).lower() == "true"
    if not gcs_ft_on and "RAY_REDIS_ADDRESS" in head_env:
        errors.append("RAY_REDIS_ADDRESS is set (implicit GCS fault tolerance) but gcsFaultToleranceOptions is not")
    if gcs_ft is not None:
        if params.get("redis-password"):
            errors.append("redis-password in rayStartParams with gcsFaultToleranceOptions; use gcsFaultToleranceOptions.redisPassword")
        for var in ("REDIS_PASSWORD", "RAY_REDIS_ADDRESS"):
            if var in head_env:
                errors.append(f"{var} env var in the head pod with gcsFaultToleranceOptions; use gcsFaultToleranceOptions")
    if params.get("redis-username") or "REDIS_USERNAME" in head_env:
        errors.append("redis username in rayStartParams or env; use gcsFaultToleranceOptions.redisUsername")
    v2_env = str(head_env.get("RAY_enable_autoscaler_v2", "")).lower()
    if not autoscaling and v2_env in ("1", "true"):
        errors.append("RAY_enable_autoscaler_v2 is set but enableInTreeAutoscaling is false")
    opts = spec.get("autoscalerOptions") or {}
    if autoscaling and opts.get("version") and "RAY_enable_autoscaler_v2" in head_env:
        errors.append("both autoscalerOptions.version and RAY_enable_autoscaler_v2 are set; use the former")
    if autoscaling and (opts.get("version") == "v2" or v2_env in ("1", "true")):
        for gname, group in [("head", head)] + [(w.get("groupName", "?"), w) for w in spec.get("workerGroupSpecs") or []]:
            policy = ((group.get("template") or {}).get("spec") or {}).get("restartPolicy")
            if policy not in (None, "", "Never"):
                errors.append(f"{gname}: restartPolicy must be Never or unset with autoscaler v2")
    if (opts.get("idleTimeoutSeconds") or 0) < 0:
        errors.append("autoscalerOptions.idleTimeoutSeconds must be non-negative")
    auth = spec.get("authOptions") or {}
    if auth.get("mode") == "token":
        version = spec.get("rayVersion") or ""
        parts = re.findall(r"\d+", version)[:3]
        if not parts:
            errors.append("authOptions.mode is 'token' but rayVersion is missing; Ray >= 2.52.0 is required")
        elif tuple(int(p) for p in parts) < (2, 52, 0):
            errors.append(f"authOptions.mode is 'token' but rayVersion {version} < 2.52.0")
    for where in ("managedBy",):
        if spec.get(where) is not None and spec[where] not in _MANAGED_BY:
            errors.append(f"rayClusterSpec.managedBy must be one of {sorted(_MANAGED_BY)}")
    return errors


def check_rayjob(obj: Mapping[str, Any]) -> list[str]:
    """``ValidateRayJobMetadata`` + ``ValidateRayJobSpec`` + the RayJob CRD's CEL rules."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    errors = check_name(meta, "RayJob", MAX_RAYJOB_NAME) + check_labels(meta.get("labels"), "RayJob labels")
    shutdown = bool(spec.get("shutdownAfterJobFinishes"))
    ttl = spec.get("ttlSecondsAfterFinished", 0) or 0
    mode = spec.get("submissionMode", "K8sJobMode")
    selector = spec.get("clusterSelector") or {}
    cluster = spec.get("rayClusterSpec")
    if spec.get("suspend") and not shutdown:
        errors.append("suspend requires shutdownAfterJobFinishes: true")
    if ttl < 0:
        errors.append("ttlSecondsAfterFinished must be a non-negative integer")
    if ttl > 0 and not shutdown:
        errors.append("ttlSecondsAfterFinished requires shutdownAfterJobFinishes: true")
    if bool(selector) == (cluster is not None):
        errors.append("exactly one of rayClusterSpec or clusterSelector must be set")
    if selector:
        if not selector.get(_CLUSTER_SELECTOR_KEY):
            errors.append(f"clusterSelector needs a non-empty {_CLUSTER_SELECTOR_KEY!r}")
        if spec.get("suspend"):
            errors.append("clusterSelector mode does not support suspend")
        if mode == "SidecarMode":
            errors.append("clusterSelector is not supported in SidecarMode")
    if mode not in _SUBMISSION_MODES:
        errors.append(f"submissionMode {mode!r} is not one of {sorted(_SUBMISSION_MODES)}")
    if mode == "InteractiveMode" and (spec.get("backoffLimit") or 0) > 0:
        errors.append("backoffLimit is incompatible with InteractiveMode")
    if mode == "SidecarMode":
        if spec.get("submitterPodTemplate") is not None:
            errors.append("SidecarMode does not support submitterPodTemplate")
        if spec.get("submitterConfig") is not None:
            errors.append("SidecarMode does not support submitterConfig")
        policy = ((((cluster or {}).get("headGroupSpec") or {}).get("template") or {}).get("spec") or {}).get("restartPolicy")
        if policy not in (None, "", "Never"):
            errors.append("SidecarMode needs the head pod's restartPolicy Never or unset")
    if cluster is not None:
        errors += [f"rayClusterSpec: {e}" for e in check_raycluster_spec(cluster, meta.get("annotations"))]
    if spec.get("runtimeEnvYAML"):
        try:
            yaml.safe_load(spec["runtimeEnvYAML"])
        except yaml.YAMLError as exc:
            errors.append(f"runtimeEnvYAML is not valid YAML: {exc}")
    if spec.get("activeDeadlineSeconds") is not None and spec["activeDeadlineSeconds"] <= 0:
        errors.append("activeDeadlineSeconds must be a positive integer")
    if spec.get("backoffLimit") is not None and spec["backoffLimit"] < 0:
        errors.append("backoffLimit must be non-negative")
    if spec.get("managedBy") is not None and spec["managedBy"] not in _MANAGED_BY:
        errors.append(f"managedBy must be one of {sorted(_MANAGED_BY)}")
    deletion = spec.get("deletionStrategy")
    if deletion is not None:
        legacy = "onSuccess" in deletion or "onFailure" in deletion
        rules = bool(deletion.get("deletionRules"))
        if legacy and rules:
            errors.append("deletionStrategy: onSuccess/onFailure and deletionRules cannot be used together")
        if not ((("onSuccess" in deletion) and ("onFailure" in deletion)) or rules):
            errors.append("deletionStrategy needs both onSuccess and onFailure, or deletionRules")
        if rules and shutdown:
            errors.append("shutdownAfterJobFinishes and deletionStrategy.deletionRules are mutually exclusive")
    return errors


def check_rayservice(obj: Mapping[str, Any]) -> list[str]:
    """``ValidateRayServiceMetadata`` + ``ValidateRayServiceSpec``."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    errors = check_name(meta, "RayService", MAX_RAYSERVICE_NAME) + check_labels(meta.get("labels"), "RayService labels")
    if meta.get("generateName") and not meta.get("name"):
        errors.append("RayService needs a fixed metadata.name (its Services are named after it)")
    timeout = (meta.get("annotations") or {}).get("ray.io/initializing-timeout")
    if timeout is not None and not re.fullmatch(r"[1-9]\d*|(\d+(\.\d+)?(ns|us|ms|s|m|h))+", str(timeout)):
        errors.append(f"ray.io/initializing-timeout {timeout!r}: expected a Go duration (5m) or positive seconds")
    cluster = spec.get("rayClusterConfig") or {}
    errors += [f"rayClusterConfig: {e}" for e in check_raycluster_spec(cluster, meta.get("annotations"))]
    head_svc = (cluster.get("headGroupSpec") or {}).get("headService") or {}
    if (head_svc.get("metadata") or {}).get("name"):
        errors.append("rayClusterConfig.headGroupSpec.headService.metadata.name should not be set")
    upgrade = (spec.get("upgradeStrategy") or {}).get("type")
    if upgrade is not None and upgrade not in _UPGRADE_TYPES:
        errors.append(f"upgradeStrategy.type {upgrade!r} is not one of {sorted(_UPGRADE_TYPES)}")
    if upgrade == "NewClusterWithIncrementalUpgrade":
        if not cluster.get("enableInTreeAutoscaling"):
            errors.append("NewClusterWithIncrementalUpgrade requires enableInTreeAutoscaling")
        opts = (spec.get("upgradeStrategy") or {}).get("clusterUpgradeOptions")
        if not opts:
            errors.append("NewClusterWithIncrementalUpgrade requires clusterUpgradeOptions")
        elif not opts.get("gatewayClassName"):
            errors.append("clusterUpgradeOptions.gatewayClassName is required")
    if (spec.get("rayClusterDeletionDelaySeconds") or 0) < 0:
        errors.append("rayClusterDeletionDelaySeconds must be non-negative")
    if not spec.get("serveConfigV2"):
        errors.append("serveConfigV2 is empty: the RayService would run no application")
    return errors


def check(obj: Mapping[str, Any]) -> list[str]:
    """KubeRay's checks for a RayJob or RayService; other kinds have none here."""
    return {"RayJob": check_rayjob, "RayService": check_rayservice}.get(obj.get("kind"), lambda _: [])(obj)
