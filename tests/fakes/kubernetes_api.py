"""Loopback fake of the Kubernetes API for namespaced custom objects (``/apis/<group>/<version>/...``).

Speaks the real REST protocol the official ``kubernetes`` client (and so Airflow's
``KubernetesHook``) uses, so production code runs unchanged against it:

* ``POST   /apis/{group}/{version}/namespaces/{ns}/{plural}`` — create; ``metadata.generateName``
  gets 5 random characters like the API server; ``409 AlreadyExists``; ``422 Invalid`` with the
  causes when the optional ``validate`` callback (e.g. the CRD schema) rejects the body;
  ``404 NotFound`` for an unknown namespace.
* ``GET    .../{plural}/{name}`` — ``200`` or ``404 NotFound`` (a ``Status`` object).
* ``GET    .../{plural}?labelSelector=a=b,c=d`` — a ``<Kind>List``.
* ``DELETE .../{plural}/{name}`` — ``200`` with the object, or ``404``.

What the controller (KubeRay) would do is up to the test: :meth:`FakeKubernetesApi.set_status`
writes an object's ``status`` as the operator would. :attr:`fail_next` queues HTTP errors
(``500``, ``503`` ...) for the next requests to exercise retries. Standard library only, so the
Airflow venv can use it too.
"""

from __future__ import annotations

import json
import random
import string
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.fakes.loopback import LoopbackServer

Validator = Callable[[dict[str, Any]], list[str]]


def _status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "details": details, "code": code}


class FakeKubernetesApi:
    """Custom objects of one resource type (e.g. ``ray.io/v1`` ``rayjobs``), in memory."""

    def __init__(self, group: str = "ray.io", version: str = "v1", plural: str = "rayjobs", kind: str = "RayJob",
                 namespaces: set[str] | None = None, validate: Validator | None = None) -> None:
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaces = namespaces  # None: any namespace exists
        self.validate = validate
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.deleted: list[tuple[str, str]] = []
        self.fail_next: list[int] = []
        self._lock = threading.Lock()
        self._rv = 0
        self.server = LoopbackServer(self.handle)

    # --- test side ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.server.url

    def kubeconfig(self, namespace: str = "default") -> dict[str, Any]:
        """A kubeconfig (as a dict) pointing the official client at this server."""
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
        }

    def set_status(self, namespace: str, name: str, status: dict[str, Any] | None) -> None:
        with self._lock:
            obj = self.objects[(namespace, name)]
            if status is None:
                obj.pop("status", None)
            else:
                obj["status"] = status
            self._bump(obj)

    def names(self, namespace: str) -> list[str]:
        with self._lock:
            return sorted(n for ns, n in self.objects if ns == namespace)

    def __enter__(self) -> FakeKubernetesApi:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    # --- protocol -----------------------------------------------------------------------------------
    def _bump(self, obj: dict[str, Any]) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any,
               headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            if self.fail_next:
                code = self.fail_next.pop(0)
                return code, _status(code, "InternalError" if code >= 500 else "TooManyRequests", "injected failure"), {}
        prefix = f"/apis/{self.group}/{self.version}/namespaces/"
        if not path.startswith(prefix):
            return 404, _status(404, "NotFound", f"the server could not find the requested resource ({path})"), {}
        parts = path[len(prefix):].strip("/").split("/")
        if len(parts) not in (2, 3) or parts[1] != self.plural:
            return 404, _status(404, "NotFound", f"the server could not find the requested resource ({path})"), {}
        namespace, name = parts[0], (parts[2] if len(parts) == 3 else None)
        if self.namespaces is not None and namespace not in self.namespaces:
            return 404, _status(404, "NotFound", f'namespaces "{namespace}" not found', name=namespace, kind="namespaces"), {}
        with self._lock:
            if method == "POST" and name is None:
                return self._create(namespace, body)
            if method == "GET" and name is None:
                return self._list(namespace, (query.get("labelSelector") or [""])[0])
            if method == "GET":
                return self._get(namespace, name)
            if method == "DELETE" and name is not None:
                return self._delete(namespace, name)
        return 405, _status(405, "MethodNotAllowed", f"{method} not supported by the fake"), {}

    def _not_found(self, name: str) -> tuple[int, Any, dict[str, str]]:
        return 404, _status(404, "NotFound", f'{self.plural}.{self.group} "{name}" not found',
                            name=name, group=self.group, kind=self.plural), {}

    def _create(self, namespace: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict):
            return 400, _status(400, "BadRequest", "the body of the request was not a JSON object"), {}
        if body.get("kind") != self.kind or body.get("apiVersion") != f"{self.group}/{self.version}":
            return 400, _status(400, "BadRequest",
                                f"the API version in the data ({body.get('apiVersion')}) does not match the expected "
                                f"API version ({self.group}/{self.version})"), {}
        obj = json.loads(json.dumps(body))
        meta = obj.setdefault("metadata", {})
        if meta.get("namespace") not in (None, namespace):
            return 400, _status(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                                    "sent on the request"), {}
        if not meta.get("name"):
            if not meta.get("generateName"):
                return 422, _status(422, "Invalid", f"{self.kind} is invalid: metadata.name: Required value"), {}
            meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        name = meta["name"]
        if self.validate is not None:
            causes = self.validate(obj)
            if causes:
                return 422, _status(422, "Invalid", f'{self.kind}.{self.group} "{name}" is invalid: ' + "; ".join(causes),
                                    name=name, group=self.group, kind=self.kind,
                                    causes=[{"reason": "FieldValueInvalid", "message": c} for c in causes]), {}
        if (namespace, name) in self.objects:
            return 409, _status(409, "AlreadyExists", f'{self.plural}.{self.group} "{name}" already exists',
                                name=name, group=self.group, kind=self.plural), {}
        meta.update(namespace=namespace, uid=str(uuid.uuid4()),
                    creationTimestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), generation=1)
        obj.pop("status", None)
        self._bump(obj)
        self.objects[(namespace, name)] = obj
        return 201, obj, {}

    def _get(self, namespace: str, name: str) -> tuple[int, Any, dict[str, str]]:
        obj = self.objects.get((namespace, name))
        return (200, obj, {}) if obj is not None else self._not_found(name)

    def _list(self, namespace: str, selector: str) -> tuple[int, Any, dict[str, str]]:
        wanted = dict(p.split("=", 1) for p in selector.split(",") if "=" in p)
        items = [o for (ns, _), o in sorted(self.objects.items()) if ns == namespace
                 and all((o["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]
        return 200, {"apiVersion": f"{self.group}/{self.version}", "kind": f"{self.kind}List",
                     "metadata": {"resourceVersion": str(self._rv)}, "items": items}, {}

    def _delete(self, namespace: str, name: str) -> tuple[int, Any, dict[str, str]]:
        obj = self.objects.pop((namespace, name), None)
        if obj is None:
            return self._not_found(name)
        self.deleted.append((namespace, name))
        return 200, obj, {}
