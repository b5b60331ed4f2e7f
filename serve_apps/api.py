"""The FastAPI app of the ingress: routers, error handlers, request context.

Built inside each Ingress replica (``Ingress.__serve_build_asgi_app__``) rather than at import
time: with ``@serve.ingress(app)`` Serve would serve a pickled copy of a module-level app, and
the collaborators the routes need (store, DeploymentHandles) exist only in the replica.
"""

from __future__ import annotations

from fastapi import FastAPI

from finray import __version__
from serve_apps.deps import Services
from serve_apps.errors import install_error_handlers
from serve_apps.request_context import RequestContextMiddleware
from serve_apps.routes import ROUTERS
from serve_apps.security import install_security

DESCRIPTION = """Personalized Korean financial advice on Ray Serve.

* `GET /` — status, backends, catalogue freshness
* `/api/v1/products/search` — hybrid product search
* `/api/v1/recommendations/{user_id}` — personal recommendations (적합성 원칙 applied, reasons given)
* `/api/v1/chat/stream` — the advisor as Server-Sent Events; `/api/v1/chat/feedback` — likes and dislikes
* `/api/v1/users/{user_id}/vectorize` — re-embed one user
* `/api/v1/admin/...` — statistics and logs (admin role)
* `/api/v1/forecast`, `/api/v1/forecast/stream` — RiskXpert indicator forecasts, summary and scenarios
* `/api/v1/auth/...` — Kakao login, dev login (`AUTH_DEV_LOGIN=true`), token refresh, logout

Every `/api/v1` route except `/api/v1/auth/...` needs `Authorization: Bearer <access token>`
(401 without a valid one); a `user_id` must be the caller's own unless the caller is an admin
(403); requests are rate-limited per IP and per user (429 with `Retry-After`).

Errors are JSON: `{"error": kind, "detail": "...", "request_id": "..."}`; every response carries
`X-Request-ID` (send your own to correlate logs).
"""


def create_app(services: Services, *, echo_request_id: bool = True) -> FastAPI:
    """The app for one Ingress replica; ``echo_request_id=False`` behind Serve (its proxy does it)."""
    app = FastAPI(title="finray", version=__version__, description=DESCRIPTION)
    app.state.services = services
    app.state.settings = services.settings  # also read by serve_apps.security dependencies
    install_error_handlers(app)
    # auth, rate limits, body limit, alerts (serve_apps/security.py); installed before the
    # request-context middleware is added, so that one ends up outermost: even a 413 has its id
    install_security(app, services.settings)
    for mount in ROUTERS:
        app.include_router(
            mount.router, prefix=mount.prefix, dependencies=list(mount.dependencies),
            responses=dict(mount.responses) or None,
        )
    app.add_middleware(RequestContextMiddleware, metrics=services.metrics, echo_header=echo_request_id)
    return app
