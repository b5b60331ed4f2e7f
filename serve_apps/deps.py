"""FastAPI dependencies: how route functions reach settings, the store and the other deployments.

The Ingress replica builds one :class:`Services` in its constructor and ``create_app`` puts it on
``app.state.services`` (and ``app.state.settings``, which ``serve_apps/security.py`` also reads).
Routes never import deployments or open stores themselves; they declare what they need::

    @router.get("/things/{user_id}")
    async def things(user_id: UserIdPath, services: ServicesDep) -> ...

    @router.post("/forecast")
    async def forecast(body: ..., forecaster: DeploymentHandle = Depends(handle("forecaster"))): ...

A new deployment is reached by passing its handle to ``Ingress.bind(..., forecaster=Forecaster.bind())``
in ``serve_apps/app.py``: every extra keyword handle lands in :attr:`Services.handles`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy import Engine

from finray.chatlog import BufferedLogWriter
from finray.config import Settings
from finray.memo import TTLCache
from finray.stores.base import Store
from serve_apps.api_models import USER_ID_PATTERN
from serve_apps.errors import Unavailable
from serve_apps.observability import ServeMetrics


@dataclass
class Services:
    """The collaborators of the HTTP routes (one per Ingress replica)."""

    settings: Settings
    store: Store
    user_db: Engine
    embedder_name: str
    handles: dict[str, Any]  # DeploymentHandle by name: embedder, retriever, advisor, + extras
    log_writer: BufferedLogWriter
    metrics: ServeMetrics | None = None
    memo: TTLCache[str, Any] = field(default_factory=lambda: TTLCache(ttl_s=15.0, max_items=64))

    def handle(self, name: str) -> Any:
        try:
            return self.handles[name]
        except KeyError:
            raise Unavailable(f"deployment {name!r} is not part of this application") from None


def get_services(request: Request) -> Services:
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise RuntimeError("app.state.services is missing: build the app with serve_apps.api.create_app")
    return services


def get_store(services: Annotated[Services, Depends(get_services)]) -> Store:
    return services.store


def handle(name: str) -> Callable[[Request], Any]:
    """Dependency factory: the DeploymentHandle passed to the Ingress under ``name``."""

    def dependency(request: Request) -> Any:
        return get_services(request).handle(name)

    dependency.__name__ = f"handle_{name}"
    return dependency


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else ""


ServicesDep = Annotated[Services, Depends(get_services)]
StoreDep = Annotated[Store, Depends(get_store)]
RequestIdDep = Annotated[str, Depends(request_id)]
#: A ``user_id`` path parameter; the same pattern validates ``user_id`` in request bodies.
UserIdPath = Annotated[
    str, Path(pattern=USER_ID_PATTERN, description="user id, U + 7 digits", examples=["U0000001"])
]
