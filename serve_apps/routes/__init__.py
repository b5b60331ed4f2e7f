"""HTTP routers of the ingress, one APIRouter module per area, mounted in ONE place: ``ROUTERS``.

``serve_apps.api.create_app`` includes every :class:`Mount` in order; every dependency in
``Mount.dependencies`` runs before each route of that router. Who may call what is therefore
readable here, in one table:

* public: ``GET /`` (status, also the liveness probe), ``/app`` (the web front end's static
  files), ``/api/v1/auth/...`` (login, refresh, logout; they rate-limit per IP themselves);
* everything else under ``/api/v1`` first runs :func:`~serve_apps.security.rate_limit` — the
  per-IP bucket, then a valid access token (401), then the caller's per-user bucket (429). Routes
  behind the LLM (chat, forecasts) cost :data:`LLM_COST` tokens, the rest one;
* ``recommendations`` and ``users`` (every route has a ``user_id`` path parameter) add
  :func:`~serve_apps.security.require_self`: the caller's own id, or an admin (403);
* ``admin`` adds :func:`~serve_apps.security.require_admin` (``AUTH_ADMIN_USER_IDS``, 403);
* ``chat`` and ``feedback`` take ``user_id`` in the JSON body and check it in the handler
  (:func:`~serve_apps.security.ensure_self`); ``forecast/stream`` (an optional ``user_id`` in
  the body names whose chat log the conversation is) checks it in the handler the same way.

To plug in a new area: write ``routes/<area>.py`` with ``router = APIRouter(...)``, import it
here and add a ``Mount`` with the dependencies above; a new deployment's handle is passed in
``serve_apps/app.py`` (``Ingress.bind(..., name=Deployment.bind())``) and reached with
``Depends(serve_apps.deps.handle("name"))``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends

from serve_apps.routes import (
    admin, auth, chat, feedback, forecast, products, recommendations, status, users, web,
)
from serve_apps.security import (
    ERROR_RESPONSES, rate_limit, require_admin, require_self,
)

API_V1 = "/api/v1"
#: Rate-limit tokens a request behind the LLM takes (chat, forecasts); other routes take one.
LLM_COST = 5


@dataclass(frozen=True)
class Mount:
    router: APIRouter
    prefix: str = ""
    dependencies: Sequence[Any] = ()  # FastAPI ``Depends(...)`` run before every route of the router
    responses: Mapping[int | str, dict[str, Any]] = field(default_factory=dict)  # extra OpenAPI responses


def api(router: APIRouter, *dependencies: Any, cost: float = 1.0) -> Mount:
    """A protected ``/api/v1`` router: rate limit + access token first, then ``dependencies``."""
    return Mount(router, API_V1, (Depends(rate_limit(cost=cost)), *dependencies), ERROR_RESPONSES)


ROUTERS: tuple[Mount, ...] = (
    Mount(status.router),
    Mount(auth.router),  # its own prefix, /api/v1/auth
    Mount(web.router),  # /app: static files, no data
    api(products.router),
    api(recommendations.router, Depends(require_self)),
    api(chat.router, cost=LLM_COST),
    api(feedback.router),
    api(users.router, Depends(require_self)),
    api(admin.router, Depends(require_admin)),
    api(forecast.router, cost=LLM_COST),
)
