"""HTTP routers of the ingress, one APIRouter module per area, mounted in ONE place: ``ROUTERS``.

``serve_apps.api.create_app`` includes every :class:`Mount` in order. To plug something in:

* a new area (e.g. RiskXpert): write ``routes/forecast.py`` with ``router = APIRouter(...)``,
  import it here and add ``Mount(forecast.router, API_V1)``; its deployment handle is passed in
  ``serve_apps/app.py`` (``Ingress.bind(..., forecaster=Forecaster.bind())``) and reached with
  ``Depends(serve_apps.deps.handle("forecaster"))``.
* auth: add ``Mount(auth.router)`` and give the other mounts their dependencies — every
  dependency in ``Mount.dependencies`` runs before each route of that router, e.g.
  ``(Depends(require_user),)`` for the API, ``(Depends(require_admin),)`` for ``admin``, and
  ``(Depends(require_self),)`` for ``recommendations`` and ``users`` (every route there has a
  ``user_id`` path parameter, validated by ``USER_ID_PATTERN``). Routes taking ``user_id`` in a
  JSON body (``chat``, ``feedback``) check it in the handler with the same pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter

from serve_apps.routes import admin, chat, feedback, products, recommendations, status, users

API_V1 = "/api/v1"


@dataclass(frozen=True)
class Mount:
    router: APIRouter
    prefix: str = ""
    dependencies: Sequence[Any] = ()  # FastAPI ``Depends(...)`` run before every route of the router


ROUTERS: tuple[Mount, ...] = (
    Mount(status.router),
    Mount(products.router, API_V1),
    Mount(recommendations.router, API_V1),
    Mount(chat.router, API_V1),
    Mount(feedback.router, API_V1),
    Mount(users.router, API_V1),
    Mount(admin.router, API_V1),
)
