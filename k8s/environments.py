"""One source of truth per environment: everything that differs between dev, staging and prod.

The renderer (``k8s/manifests.py``) turns an :class:`Environment` into manifests; nothing else in
the manifests is environment-specific. To change what prod runs, edit :data:`PROD` and run
``python -m k8s render --env prod`` — the committed YAML under ``k8s/rendered/prod/`` follows.

* **dev** — a laptop cluster (kind, minikube) running the embedded defaults (LanceDB on the
  shared volume, offline e5, offline LLM, bundled snapshot): no secrets needed, image built
  locally and loaded into the cluster (``kind load docker-image finray:<tag>``).
* **staging / prod** — the production backends (MongoDB Atlas, Gemini, MySQL, Redis, live
  public APIs); their credentials come from the ``finray-secrets`` Secret, never from here.

Settings are the variables ``finray/config.py`` reads; non-secret ones go in the ConfigMap
(:attr:`Environment.settings`), credentials are *named* in :data:`SECRET_KEYS` and live only in
the Secret the cluster admin creates (``kubectl create secret generic finray-secrets ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

RAY_VERSION = "2.60.0"  # must match ray[...]==2.60.0 in pyproject.toml and the Dockerfile's base
PROJECT_VERSION = "0.1.0"  # pyproject's version; image tags are "<project>-ray<ray>"
CONFIGMAP_NAME = "finray-settings"
SECRET_NAME = "finray-secrets"
PVC_NAME = "finray-data"
DATA_MOUNT_PATH = "/data/finray"  # FINRAY_HOME in every pod: indicators, models, LanceDB (dev)

#: Keys the ``finray-secrets`` Secret may hold (each is read by finray; none has a value here).
SECRET_KEYS: Mapping[str, str] = MappingProxyType({
    "MONGODB_URI": "Atlas connection string (FINRAY_STORE=mongo)",
    "GOOGLE_API_KEY": "Gemini embeddings and chat (FINRAY_EMBEDDER/FINRAY_LLM=gemini)",
    "FINLIFE_API_KEY": "FSS finlife OpenAPI (FINRAY_PRODUCT_SOURCE=live)",
    "DATA_GO_KR_API_KEY": "data.go.kr fund API (live)",
    "ECOS_API_KEY": "Bank of Korea ECOS (FINRAY_INDICATOR_SOURCE=live)",
    "REDIS_URL": "cache; may carry a password",
    "FINRAY_USER_DB_URL": "read-only MySQL user DB; carries a password",
    "SLACK_WEBHOOK_URL": "alerts",
    "AUTH_JWT_SECRET": "API auth token signing",
    "KAKAO_CLIENT_SECRET": "Kakao login",
})


@dataclass(frozen=True)
class PodSize:
    """CPU and memory of one Ray pod; requests == limits, as KubeRay recommends for Ray pods."""

    cpu: str
    memory: str

    def resources(self) -> dict[str, dict[str, str]]:
        both = {"cpu": self.cpu, "memory": self.memory}
        return {"requests": dict(both), "limits": dict(both)}


@dataclass(frozen=True)
class WorkerGroup:
    """A worker group: pod size and how many pods (autoscaled between min and max)."""

    size: PodSize
    min_replicas: int
    max_replicas: int

    @property
    def replicas(self) -> int:
        return self.min_replicas


@dataclass(frozen=True)
class JobCluster:
    """The cluster a RayJob brings up: a head that only hosts the driver, and fixed workers."""

    head: PodSize
    workers: PodSize
    worker_replicas: int


@dataclass(frozen=True)
class Storage:
    size: str
    access_mode: str  # ReadWriteMany when pods spread over nodes; ReadWriteOnce on a 1-node dev cluster
    storage_class: str | None = None  # None: the cluster's default class


@dataclass(frozen=True)
class Environment:
    name: str
    namespace: str
    image_repository: str
    image_tag: str
    image_pull_policy: str
    settings: Mapping[str, str]
    secret_optional: bool  # dev runs on embedded defaults and needs no Secret
    storage: Storage
    serve_head: PodSize
    serve_workers: WorkerGroup
    jobs: Mapping[str, JobCluster]
    job_ttl_seconds_after_finished: int  # keep a finished job's cluster this long for logs
    prometheus_labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def image(self) -> str:
        return f"{self.image_repository}:{self.image_tag}"


def _image_tag() -> str:
    return f"{PROJECT_VERSION}-ray{RAY_VERSION}"


_COMMON_SETTINGS = {
    "FINRAY_HOME": DATA_MOUNT_PATH,
    "FINRAY_PROGRESS": "0",  # no progress bars in pod logs
}

_PRODUCTION_SETTINGS = {
    **_COMMON_SETTINGS,
    "FINRAY_ENV": "prod",
    "FINRAY_STORE": "mongo",
    "FINRAY_EMBEDDER": "gemini",
    "FINRAY_LLM": "gemini",
    "FINRAY_PRODUCT_SOURCE": "live",
    "FINRAY_INDICATOR_SOURCE": "live",
    "GEMINI_EMBED_MODEL": "models/gemini-embedding-001",
    "GEMINI_EMBED_DIM": "768",
    "GEMINI_CHAT_MODEL": "gemini-2.5-flash",
    "FINRAY_HTTP_TIMEOUT_S": "10",
    "FINRAY_HTTP_RETRIES": "3",
    "FINRAY_HTTP_CONCURRENCY_PER_HOST": "4",
}


def _jobs(head: PodSize, sizes: Mapping[str, tuple[PodSize, int]]) -> Mapping[str, JobCluster]:
    return MappingProxyType({job: JobCluster(head, w, n) for job, (w, n) in sizes.items()})


DEV = Environment(
    name="dev",
    namespace="finray-dev",
    image_repository="finray",  # built locally: docker build -f k8s/Dockerfile -t finray:<tag> .
    image_tag=_image_tag(),
    image_pull_policy="IfNotPresent",
    settings=MappingProxyType({
        **_COMMON_SETTINGS,
        "FINRAY_ENV": "dev",
        "FINRAY_STORE": "lance",
        "FINRAY_EMBEDDER": "e5",
        "FINRAY_LLM": "offline",
        "FINRAY_PRODUCT_SOURCE": "snapshot",
        "FINRAY_INDICATOR_SOURCE": "snapshot",
    }),
    secret_optional=True,
    storage=Storage(size="10Gi", access_mode="ReadWriteOnce"),
    serve_head=PodSize("1", "4Gi"),
    serve_workers=WorkerGroup(PodSize("2", "6Gi"), min_replicas=1, max_replicas=2),
    jobs=_jobs(PodSize("1", "3Gi"), {
        "collect_products": (PodSize("1", "3Gi"), 1),
        "embed_products": (PodSize("2", "6Gi"), 1),
        "embed_users": (PodSize("2", "6Gi"), 1),
        "collect_indicators": (PodSize("1", "2Gi"), 1),
        "train_forecaster": (PodSize("2", "6Gi"), 1),
    }),
    job_ttl_seconds_after_finished=300,
)

STAGING = Environment(
    name="staging",
    namespace="finray-staging",
    image_repository="ghcr.io/finray/finray",
    image_tag=_image_tag(),
    image_pull_policy="IfNotPresent",
    settings=MappingProxyType({**_PRODUCTION_SETTINGS, "MONGODB_DB": "finray_staging"}),
    secret_optional=False,
    storage=Storage(size="20Gi", access_mode="ReadWriteMany"),
    serve_head=PodSize("2", "6Gi"),
    serve_workers=WorkerGroup(PodSize("2", "6Gi"), min_replicas=1, max_replicas=3),
    jobs=_jobs(PodSize("1", "4Gi"), {
        "collect_products": (PodSize("2", "4Gi"), 1),
        "embed_products": (PodSize("4", "8Gi"), 1),
        "embed_users": (PodSize("4", "8Gi"), 2),
        "collect_indicators": (PodSize("1", "2Gi"), 1),
        "train_forecaster": (PodSize("6", "12Gi"), 1),
    }),
    job_ttl_seconds_after_finished=600,
    prometheus_labels=MappingProxyType({"release": "kube-prometheus-stack"}),
)

PROD = Environment(
    name="prod",
    namespace="finray",
    image_repository="ghcr.io/finray/finray",
    image_tag=_image_tag(),
    image_pull_policy="IfNotPresent",
    settings=MappingProxyType({**_PRODUCTION_SETTINGS, "MONGODB_DB": "finray"}),
    secret_optional=False,
    storage=Storage(size="50Gi", access_mode="ReadWriteMany"),
    serve_head=PodSize("2", "8Gi"),
    serve_workers=WorkerGroup(PodSize("4", "12Gi"), min_replicas=2, max_replicas=8),
    jobs=_jobs(PodSize("2", "8Gi"), {
        "collect_products": (PodSize("2", "4Gi"), 1),
        "embed_products": (PodSize("4", "8Gi"), 2),
        "embed_users": (PodSize("4", "8Gi"), 4),
        "collect_indicators": (PodSize("1", "2Gi"), 1),
        "train_forecaster": (PodSize("6", "12Gi"), 1),
    }),
    job_ttl_seconds_after_finished=600,
    prometheus_labels=MappingProxyType({"release": "kube-prometheus-stack"}),
)

ENVIRONMENTS: Mapping[str, Environment] = MappingProxyType({e.name: e for e in (DEV, STAGING, PROD)})


def get_environment(name: str) -> Environment:
    """The environment called ``name``; a clear error listing the known ones otherwise."""
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        raise KeyError(f"unknown environment {name!r}; known: {', '.join(ENVIRONMENTS)}") from None
