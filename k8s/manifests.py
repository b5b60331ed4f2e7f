"""Manifests as plain dicts: pure functions of an :class:`~k8s.environments.Environment`.

Everything a KubeRay pod needs is built in one place (:func:`ray_pod_template`) so the Serve
cluster and every job cluster share the image, settings, secrets, data volume, ports and probes.

Probes are KubeRay's own health checks written out (``ray-operator/controllers/ray/common/pod.go``,
``initLivenessAndReadinessProbe``), so what runs is visible in the manifest and reviewed with it:

* every Ray pod: ``GET :52365/api/healthz`` on the dashboard agent (Raylet, and GCS on the head) —
  the unified check KubeRay uses for Ray >= 2.53;
* RayService workers' readiness additionally asks the Serve proxy (``:8000/-/healthz``) with
  failureThreshold 1, so a worker leaves the serve Service as soon as its proxy is not ready.

Ports are named so the PodMonitor and KubeRay's Services find them: ``gcs-server`` 6379,
``dashboard`` 8265, ``client`` 10001, ``serve`` 8000, ``metrics`` 8080 (Ray's metrics export
port), ``as-metrics`` 44217 (autoscaler) and ``dash-metrics`` 44227 (dashboard), head only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from k8s.crd_schemas import API_VERSION
from k8s.environments import (
    CONFIGMAP_NAME,
    DATA_MOUNT_PATH,
    PVC_NAME,
    RAY_VERSION,
    SECRET_NAME,
    Environment,
    PodSize,
)
from k8s.jobs import DataJob, get_job
from k8s.serve_config import SERVE_PORT

RAYSERVICE_NAME = "finray"
PODMONITOR_NAME = "finray-ray"
DASHBOARD_CONFIGMAP_NAME = "finray-grafana-dashboard"
DASHBOARD_FILE = "finray-serve.json"
WORKER_GROUP = "cpu"
RAY_UID, RAY_GID = 1000, 100  # the `ray` user of the rayproject/ray image
DASHBOARD_AGENT_PORT = 52365
METRICS_PORT = 8080
HEAD_PORTS = {"gcs-server": 6379, "dashboard": 8265, "client": 10001, "serve": SERVE_PORT,
              "metrics": METRICS_PORT, "as-metrics": 44217, "dash-metrics": 44227}
WORKER_PORTS = {"metrics": METRICS_PORT}
SERVE_WORKER_PORTS = {"serve": SERVE_PORT, "metrics": METRICS_PORT}


def common_labels(env: Environment, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "finray",
        "app.kubernetes.io/part-of": "finray",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/version": env.image_tag,
        "finray.io/environment": env.name,
    }


# --- probes -------------------------------------------------------------------------------------

def _node_health(initial: int, timeout: int, failure: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/api/healthz", "port": DASHBOARD_AGENT_PORT},
        "initialDelaySeconds": initial, "timeoutSeconds": timeout, "periodSeconds": 5,
        "successThreshold": 1, "failureThreshold": failure,
    }


def _wget(port: int, path: str, timeout: int) -> str:
    return f"wget --tries 1 -T {timeout} -q -O- http://localhost:{port}/{path} | grep success"


def probes(node: str, serve: bool) -> dict[str, Any]:
    """Liveness and readiness for a ``head`` or ``worker`` Ray container (KubeRay's defaults)."""
    timeout = 5 if node == "head" else 2
    out = {
        "livenessProbe": _node_health(initial=30, timeout=timeout, failure=120),
        "readinessProbe": _node_health(initial=10, timeout=timeout, failure=10),
    }
    if node == "worker" and serve:
        check = " && ".join([
            _wget(DASHBOARD_AGENT_PORT, "api/local_raylet_healthz", 2),
            _wget(SERVE_PORT, "-/healthz", 2),
        ])
        out["readinessProbe"] = {
            "exec": {"command": ["bash", "-c", check]},
            "initialDelaySeconds": 10, "timeoutSeconds": 5, "periodSeconds": 5,
            "successThreshold": 1, "failureThreshold": 1,
        }
    return out


# --- pods ---------------------------------------------------------------------------------------

def ray_pod_template(env: Environment, *, node: str, size: PodSize, labels: Mapping[str, str],
                     ports: Mapping[str, int], serve: bool) -> dict[str, Any]:
    """The pod template of a Ray head or worker: image, settings, secrets, data volume, probes."""
    container: dict[str, Any] = {
        "name": f"ray-{node}",
        "image": env.image,
        "imagePullPolicy": env.image_pull_policy,
        "ports": [{"name": n, "containerPort": p} for n, p in ports.items()],
        "envFrom": [
            {"configMapRef": {"name": CONFIGMAP_NAME}},
            {"secretRef": {"name": SECRET_NAME, "optional": env.secret_optional}},
        ],
        "resources": size.resources(),
        "volumeMounts": [{"name": "finray-data", "mountPath": DATA_MOUNT_PATH}],
        **probes(node, serve),
        # Let Ray finish in-flight work before the kubelet kills the container.
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "ray stop"]}}},
    }
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": RAY_UID, "fsGroup": RAY_GID},
            "containers": [container],
            "volumes": [{"name": "finray-data", "persistentVolumeClaim": {"claimName": PVC_NAME}}],
        },
    }


def _head_group(env: Environment, size: PodSize, labels: Mapping[str, str], serve: bool) -> dict[str, Any]:
    return {
        # num-cpus 0: no tasks or replicas on the head, which keeps GCS, the dashboard, the Serve
        # controller and job drivers responsive under load (Ray's production advice).
        "rayStartParams": {"num-cpus": "0", "dashboard-host": "0.0.0.0"},
        "template": ray_pod_template(env, node="head", size=size, labels=labels, ports=HEAD_PORTS, serve=serve),
    }


def _worker_group(env: Environment, size: PodSize, labels: Mapping[str, str], *, replicas: int,
                  min_replicas: int, max_replicas: int, serve: bool) -> dict[str, Any]:
    return {
        "groupName": WORKER_GROUP,
        "replicas": replicas,
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "rayStartParams": {},
        "template": ray_pod_template(env, node="worker", size=size, labels=labels,
                                     ports=SERVE_WORKER_PORTS if serve else WORKER_PORTS, serve=serve),
    }


# --- custom resources ---------------------------------------------------------------------------

def rayservice(env: Environment, serve_config_v2: str) -> dict[str, Any]:
    """The RayService: the Serve app on an autoscaling CPU cluster."""
    labels = common_labels(env, "serve")
    w = env.serve_workers
    return {
        "apiVersion": API_VERSION,
        "kind": "RayService",
        "metadata": {"name": RAYSERVICE_NAME, "namespace": env.namespace, "labels": labels},
        "spec": {
            # A changed rayClusterConfig brings up a new cluster and switches traffic when it is ready.
            "upgradeStrategy": {"type": "NewCluster"},
            # The head runs no replicas (num-cpus 0); keep it out of the serve Service.
            "excludeHeadPodFromServeSvc": True,
            "serveConfigV2": serve_config_v2,
            "rayClusterConfig": {
                "rayVersion": RAY_VERSION,
                "enableInTreeAutoscaling": True,
                "autoscalerOptions": {
                    "upscalingMode": "Default",
                    "idleTimeoutSeconds": 120,
                    "resources": PodSize("500m", "512Mi").resources(),
                },
                "headGroupSpec": _head_group(env, env.serve_head, labels, serve=True),
                "workerGroupSpecs": [
                    _worker_group(env, w.size, labels, replicas=w.replicas, min_replicas=w.min_replicas,
                                  max_replicas=w.max_replicas, serve=True),
                ],
            },
        },
    }


def rayjob(env: Environment, job: DataJob | str) -> dict[str, Any]:
    """The RayJob template for one data job: its own cluster, torn down when the job ends.

    ``metadata.generateName`` makes every ``kubectl create`` / Airflow run a new object, so runs
    never collide; KubeRay's 47-character name limit leaves 42 for the stem.
    """
    job = get_job(job) if isinstance(job, str) else job
    cluster = env.jobs[job.name]
    labels = {**common_labels(env, "data-job"), "finray.io/job": job.name}
    return {
        "apiVersion": API_VERSION,
        "kind": "RayJob",
        "metadata": {"generateName": f"{job.k8s_name}-", "namespace": env.namespace, "labels": labels},
        "spec": {
            "entrypoint": job.entrypoint,
            # K8sJobMode: a submitter Job runs `ray job submit` and tails the logs, so
            # `kubectl logs job/<name>` shows the job's output and its one-line error.
            "submissionMode": "K8sJobMode",
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": env.job_ttl_seconds_after_finished,
            "activeDeadlineSeconds": job.active_deadline_seconds,
            "backoffLimit": job.backoff_limit,
            "rayClusterSpec": {
                "rayVersion": RAY_VERSION,
                "enableInTreeAutoscaling": False,
                "headGroupSpec": _head_group(env, cluster.head, labels, serve=False),
                "workerGroupSpecs": [
                    _worker_group(env, cluster.workers, labels, replicas=cluster.worker_replicas,
                                  min_replicas=cluster.worker_replicas, max_replicas=cluster.worker_replicas,
                                  serve=False),
                ],
            },
        },
    }


# --- core objects -------------------------------------------------------------------------------

def namespace(env: Environment) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": env.namespace, "labels": common_labels(env, "namespace")}}


def settings_configmap(env: Environment) -> dict[str, Any]:
    """Non-secret settings (``finray/config.py`` variables) for every Ray pod via ``envFrom``."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP_NAME, "namespace": env.namespace, "labels": common_labels(env, "settings")},
        "data": dict(sorted(env.settings.items())),
    }


def data_pvc(env: Environment) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": [env.storage.access_mode],
        "resources": {"requests": {"storage": env.storage.size}},
    }
    if env.storage.storage_class:
        spec["storageClassName"] = env.storage.storage_class
    return {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": PVC_NAME, "namespace": env.namespace, "labels": common_labels(env, "storage")},
        "spec": spec,
    }


def podmonitor(env: Environment) -> dict[str, Any]:
    """Prometheus Operator PodMonitor for every finray Ray pod (head and workers, Serve and jobs)."""
    relabel = [{"sourceLabels": ["__meta_kubernetes_pod_label_ray_io_cluster"], "targetLabel": "ray_io_cluster"}]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": PODMONITOR_NAME, "namespace": env.namespace,
                     "labels": {**common_labels(env, "monitoring"), **env.prometheus_labels}},
        "spec": {
            "namespaceSelector": {"matchNames": [env.namespace]},
            "selector": {
                "matchLabels": {"app.kubernetes.io/part-of": "finray"},
                "matchExpressions": [{"key": "ray.io/node-type", "operator": "In", "values": ["head", "worker"]}],
            },
            "podMetricsEndpoints": [
                # A pod without the named port yields no target, so the head-only ports are safe here.
                {"port": port, "path": "/metrics", "interval": "30s", "relabelings": relabel}
                for port in ("metrics", "as-metrics", "dash-metrics")
            ],
        },
    }


def dashboard_configmap(env: Environment, dashboard: Mapping[str, Any]) -> dict[str, Any]:
    """The Grafana dashboard for Grafana's sidecar (label ``grafana_dashboard: "1"``)."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": DASHBOARD_CONFIGMAP_NAME, "namespace": env.namespace,
                     "labels": {**common_labels(env, "monitoring"), "grafana_dashboard": "1"}},
        "data": {DASHBOARD_FILE: json.dumps(dashboard, indent=1, sort_keys=True, ensure_ascii=False)},
    }
