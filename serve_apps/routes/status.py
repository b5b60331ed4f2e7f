"""``GET /``: status, version, active backends and catalogue freshness per source."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from finray.status import ServiceStatus, service_status
from serve_apps.deps import ServicesDep

router = APIRouter(tags=["status"])


@router.get("/", response_model=ServiceStatus, summary="Status, backends, catalogue freshness")
async def status(services: ServicesDep) -> ServiceStatus:
    # The catalogue changes once a day: reuse the scan for a few seconds instead of rescanning
    # the store on every probe (liveness checks hit this route often).
    return await run_in_threadpool(
        services.memo.get_or_load, "status", lambda: service_status(services.settings, services.store)
    )
