"""KubeRay CRD schemas: extract them from the CRDs once, validate manifests against them strictly.

The files under ``k8s/schemas/`` are the ``openAPIV3Schema`` of the served ``v1`` version of the
RayJob and RayService CRDs of KubeRay v1.7.0 (Apache-2.0; provenance in ``k8s/schemas/SOURCES.md``).
They are committed so a fresh clone validates without the CRD files beside it;
``python -m k8s extract-schemas --crds DIR`` regenerates them and a test checks they still match.

A CRD schema alone is lenient in two ways the API server is not:

* objects with ``properties`` but no ``additionalProperties`` accept unknown keys — the API server
  *prunes* them silently (or rejects them with ``fieldValidation=Strict``), so a typo such as
  ``shutdownAfterJobFinish`` would vanish without a word. :func:`strict` closes those objects,
  except where ``x-kubernetes-preserve-unknown-fields`` says unknown keys are part of the design;
* ``x-kubernetes-int-or-string`` nodes carry no ``type``; :func:`strict` makes them
  "integer or string" so a list or a mapping there is an error, as on the server.

``jsonschema`` is imported lazily: the renderer itself needs only PyYAML.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
KUBERAY_VERSION = "v1.7.0"
API_VERSION = "ray.io/v1"


@dataclass(frozen=True)
class CrdSource:
    kind: str
    crd_file: str  # file name in KubeRay's ray-operator/config/crd/bases/
    schema_file: str  # file name under k8s/schemas/


CRDS: dict[str, CrdSource] = {
    "RayJob": CrdSource("RayJob", "ray.io_rayjobs.yaml", "rayjob.v1.schema.json"),
    "RayService": CrdSource("RayService", "ray.io_rayservices.yaml", "rayservice.v1.schema.json"),
}


def extract_schema(crd: dict[str, Any], version: str = "v1") -> dict[str, Any]:
    """The ``openAPIV3Schema`` of one served version of a CustomResourceDefinition."""
    if crd.get("kind") != "CustomResourceDefinition":
        raise ValueError(f"not a CustomResourceDefinition: kind={crd.get('kind')!r}")
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return v["schema"]["openAPIV3Schema"]
    names = [v["name"] for v in crd["spec"]["versions"]]
    raise ValueError(f"CRD {crd['metadata']['name']} has no version {version!r} (has {names})")


def schema_text(schema: dict[str, Any]) -> str:
    """Deterministic JSON text for a schema (sorted keys, one line per file for a small diff)."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def extract_all(crd_dir: Path) -> dict[str, tuple[str, str]]:
    """``{schema_file: (json_text, sha256 of the CRD file)}`` for every CRD in :data:`CRDS`."""
    out: dict[str, tuple[str, str]] = {}
    for src in CRDS.values():
        path = crd_dir / src.crd_file
        if not path.is_file():
            raise FileNotFoundError(f"{path}: KubeRay CRD file missing (expected {src.crd_file})")
        raw = path.read_bytes()
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: these files are ~1 MB each
        schema = extract_schema(yaml.load(raw, Loader=loader))  # noqa: S506 - a safe loader
        out[src.schema_file] = (schema_text(schema), hashlib.sha256(raw).hexdigest())
    return out


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """The committed CRD schema for ``kind``, as KubeRay ships it (not yet strict)."""
    src = CRDS.get(kind)
    if src is None:
        raise KeyError(f"no committed CRD schema for kind {kind!r}; known: {sorted(CRDS)}")
    return json.loads((SCHEMA_DIR / src.schema_file).read_text(encoding="utf-8"))


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` that rejects unknown fields the way ``fieldValidation=Strict`` does."""
    out = copy.deepcopy(schema)
    _tighten(out)
    return out


def _tighten(node: Any) -> None:
    if not isinstance(node, dict):
        return
    if node.get("x-kubernetes-int-or-string") and "type" not in node and "anyOf" not in node:
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        node["additionalProperties"] = False
    for key in ("properties", "patternProperties", "definitions", "$defs"):
        for child in (node.get(key) or {}).values():
            _tighten(child)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            _tighten(node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        for child in node.get(key) or []:
            _tighten(child)


@cache
def _validator(kind: str) -> Any:
    import jsonschema  # dev dependency; also shipped with Airflow

    schema = strict(load_schema(kind))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    """Every place ``manifest`` breaks its strict CRD schema, as ``path: message`` lines."""
    kind = manifest.get("kind")
    if kind not in CRDS:
        return [f"kind: no KubeRay CRD schema for {kind!r}"]
    errors: list[str] = []
    if manifest.get("apiVersion") != API_VERSION:
        errors.append(f"apiVersion: expected {API_VERSION!r}, got {manifest.get('apiVersion')!r}")
    for err in sorted(_validator(kind).iter_errors(manifest), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in err.absolute_path) or "<root>"
        errors.append(f"{path}: {err.message}")
    return errors


def iter_schema_nodes(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object node of a schema with its property path, for tests and audits."""
    if isinstance(schema, dict):
        yield path, schema
        for name, child in (schema.get("properties") or {}).items():
            yield from iter_schema_nodes(child, f"{path}.{name}" if path else name)
        if isinstance(schema.get("items"), dict):
            yield from iter_schema_nodes(schema["items"], f"{path}[]")
        if isinstance(schema.get("additionalProperties"), dict):
            yield from iter_schema_nodes(schema["additionalProperties"], f"{path}.*")
