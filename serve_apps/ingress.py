"""The HTTP ingress: one FastAPI app behind Ray Serve (OpenAPI at /docs)."""

from __future__ import annotations

import time

from fastapi import FastAPI
from ray import serve

from finray import __version__
from finray.config import load_settings
from finray.status import ServiceStatus, service_status
from finray.stores.factory import open_store

api = FastAPI(
    title="finray",
    version=__version__,
    description="Personalized Korean financial advice: products, recommendations, RiskXpert.",
)

STATUS_TTL_S = 15.0  # the catalogue changes once a day; don't rescan it on every probe


@serve.deployment(
    max_ongoing_requests=64,
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 16},
)
@serve.ingress(api)
class Ingress:
    """Routes HTTP to the domain; holds no state beyond a short status cache."""

    def __init__(self) -> None:
        self._settings = load_settings()
        self._store = open_store(self._settings)
        self._status: tuple[float, ServiceStatus] | None = None

    @api.get("/", response_model=ServiceStatus, summary="Status, backends, catalogue freshness")
    def status(self) -> ServiceStatus:
        now = time.monotonic()
        if self._status is None or now - self._status[0] > STATUS_TTL_S:
            self._status = (now, service_status(self._settings, self._store))
        return self._status[1]
