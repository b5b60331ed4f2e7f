"""FastAPI side of accounts and security: auth dependencies, rate limits, body limit, alerts.

Wiring (the ingress does this once, on the FastAPI app that actually serves requests, before
it starts). With ``@serve.ingress(api)`` Ray Serve serves a *pickled copy* of the module-level
``api`` and sets it only after ``__init__`` returns, so state or middleware added to ``api`` in
``__init__`` never reaches a request. Build the app in the replica instead (checked under Ray
Serve 2.60 with a throwaway deployment)::

    @serve.deployment
    @serve.ingress()                      # late-bound: Serve calls __serve_build_asgi_app__
    class Ingress:
        def __init__(self) -> None:
            self._settings = load_settings()

        def __serve_build_asgi_app__(self) -> FastAPI:
            app = FastAPI(...)
            install_security(app, self._settings)
            app.include_router(auth_router)   # from serve_apps.routes.auth import router
            ...                               # the other routers, protected with the dependencies
            return app

``install_security`` puts these collaborators on ``app.state`` (the dependencies below read
them from ``request.app.state``):

=========================  ===============================================================
``app.state.settings``      :class:`finray.config.Settings`
``app.state.auth``          :class:`finray.auth.AuthService` (tokens, Kakao, links, dev login)
``app.state.rate_limiter``  :class:`finray.ratelimit.RateLimiter` (Redis or in-process)
``app.state.rate_policies`` :class:`finray.ratelimit.RatePolicies` (per-user, per-IP)
``app.state.alerter``       :class:`finray.alerts.SlackAlerter` (no-op without a webhook)
=========================  ===============================================================

and adds: exception handlers that render every refusal as JSON ``{"error", "detail", "reason"?,
"request_id"?}`` (401 also with ``WWW-Authenticate: Bearer …`` per RFC 6750, 429 with
``Retry-After``), :class:`BodySizeLimitMiddleware` (413 before parsing), and
:class:`AlertOnErrorMiddleware` (unhandled exceptions → Slack, then re-raised so the normal 500
handling still applies), plus PII/secret redaction on the root and Ray Serve log handlers.

Dependencies for routes:

* :func:`require_user` — a valid Bearer access token → :class:`~finray.auth.Principal`, else 401.
* :func:`require_self` — for routes with a ``user_id`` path/query parameter: the caller's own id
  or an admin, else 403. :func:`ensure_self` does the same for a ``user_id`` in a request body.
* :func:`require_admin` — admin role (``AUTH_ADMIN_USER_IDS``), else 403.
* :func:`rate_limit` / :func:`rate_limit_ip` — token buckets per IP (and per user), else 429.
* :func:`pagination` — ``offset``/``limit`` query parameters within :mod:`finray.limits` bounds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from finray.alerts import SlackAlerter, secrets_of
from finray.auth import (
    AuthError,
    AuthMisconfigured,
    AuthService,
    Forbidden,
    InvalidToken,
    LoginFailed,
    Principal,
    ProviderUnavailable,
)
from finray.ratelimit import RateLimited, RateLimiter, RatePolicies, open_rate_limiter
from finray.config import Settings
from finray.limits import OFFSET_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, InputError, check_user_id
from finray.privacy import install_log_redaction

log = logging.getLogger(__name__)

REALM = "finray"

# --------------------------------------------------------------------------------------------
# error bodies
# --------------------------------------------------------------------------------------------


class SecurityErrorBody(BaseModel):
    """What every refusal looks like (401/403/413/429 and the auth routes' 4xx/5xx)."""

    error: str  # unauthorized | forbidden | rate_limited | payload_too_large | login_failed | …
    detail: str  # what was missing or wrong, for a person
    reason: str | None = None  # finer machine-readable cause, e.g. token_expired, refresh_token_reused
    request_id: str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": SecurityErrorBody, "description": "missing, invalid, expired or revoked access token"},
    403: {"model": SecurityErrorBody, "description": "authenticated but not allowed"},
    429: {"model": SecurityErrorBody, "description": "rate limit exceeded; see Retry-After"},
}


class ApiError(HTTPException):
    """An HTTPException rendered as :class:`SecurityErrorBody` by the installed handler."""

    def __init__(
        self, status_code: int, error: str, detail: str, *, reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.error = error
        self.reason = reason


class PayloadTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, "payload_too_large", f"request body exceeds {limit:,} bytes (MAX_REQUEST_BODY_BYTES)"
        )


def _quote(text: str) -> str:
    return re.sub(r'["\\\r\n]', "'", text)[:200]


def unauthorized(detail: str, *, reason: str | None = None, credentials_given: bool = True) -> ApiError:
    """401 with RFC 6750 ``WWW-Authenticate``; no ``error=`` attribute when nothing was sent."""
    challenge = f'Bearer realm="{REALM}"'
    if credentials_given:
        challenge += f', error="invalid_token", error_description="{_quote(detail)}"'
    return ApiError(401, "unauthorized", detail, reason=reason, headers={"WWW-Authenticate": challenge})


def forbidden(detail: str, *, reason: str | None = None) -> ApiError:
    return ApiError(403, "forbidden", detail, reason=reason)


def _request_id(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else None


def _render(request: Request, exc: ApiError) -> JSONResponse:
    body = SecurityErrorBody(
        error=exc.error, detail=str(exc.detail), reason=exc.reason, request_id=_request_id(request)
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=exc.status_code, headers=exc.headers)


def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _render(request, exc)


def auth_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Domain errors from :mod:`finray.auth` → HTTP; misconfiguration also alerts ops."""
    assert isinstance(exc, AuthError)
    if isinstance(exc, InvalidToken):
        api = unauthorized(str(exc), reason=exc.reason)
    elif isinstance(exc, Forbidden):
        api = forbidden(str(exc), reason=exc.reason)
    elif isinstance(exc, LoginFailed):
        api = ApiError(400, "login_failed", str(exc), reason=exc.reason)
    elif isinstance(exc, ProviderUnavailable):
        api = ApiError(502, "bad_gateway", str(exc), reason=exc.reason)
    elif isinstance(exc, AuthMisconfigured):
        status = 503 if exc.reason in {"kakao_not_configured", "user_db_unavailable"} else 500
        api = ApiError(status, "auth_unavailable", str(exc), reason=exc.reason)
        alerter: SlackAlerter | None = getattr(request.app.state, "alerter", None)
        if alerter is not None and status == 500:
            alerter.alert("auth misconfigured", detail=str(exc), fingerprint_key=f"auth:{exc.reason}")
    else:
        api = ApiError(400, "auth_error", str(exc), reason=exc.reason)
    return _render(request, api)


def rate_limited_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    api = ApiError(
        429, "rate_limited", f"too many requests ({exc.scope}); retry after {exc.decision.retry_after_header} s",
        reason=f"{exc.scope}_rate_limit", headers={"Retry-After": exc.decision.retry_after_header},
    )
    return _render(request, api)


def input_error_handler(request: Request, exc: Exception) -> JSONResponse:
    return _render(request, ApiError(422, "invalid_request", str(exc)))


# --------------------------------------------------------------------------------------------
# collaborators
# --------------------------------------------------------------------------------------------


def _state(request: Request, name: str) -> Any:
    value = getattr(request.app.state, name, None)
    if value is None:
        raise RuntimeError(f"app.state.{name} is missing: call serve_apps.security.install_security(app, settings)")
    return value


def get_auth(request: Request) -> AuthService:
    return _state(request, "auth")


def get_settings(request: Request) -> Settings:
    return _state(request, "settings")


# --------------------------------------------------------------------------------------------
# authentication and authorization
# --------------------------------------------------------------------------------------------

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="BearerAuth",
    description="Access token from /api/v1/auth/kakao/callback, /refresh or /dev-login",
)


def require_user(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
) -> Principal:
    """The caller, from ``Authorization: Bearer <access token>``; 401 otherwise.

    The principal is cached on ``request.state.principal`` so several dependencies in one
    request verify the token (and hit the revocation list) once.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    if credentials is None or not credentials.credentials:
        raw = request.headers.get("authorization")
        if raw:
            raise unauthorized("Authorization header must be 'Bearer <access token>'", reason="invalid_request")
        raise unauthorized("missing Authorization: Bearer <access token>", reason="missing_token",
                           credentials_given=False)
    try:
        principal = get_auth(request).verify(credentials.credentials)
    except InvalidToken as err:
        raise unauthorized(str(err), reason=err.reason) from None
    request.state.principal = principal
    return principal


def optional_user(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
) -> Principal | None:
    """The caller if a token was sent (and is valid); ``None`` without one; 401 if it is bad."""
    if credentials is None and not request.headers.get("authorization"):
        return None
    return require_user(request, credentials)


def require_admin(principal: Principal = Depends(require_user)) -> Principal:
    if not principal.is_admin:
        raise forbidden("this endpoint needs the admin role (AUTH_ADMIN_USER_IDS)", reason="admin_required")
    return principal


def ensure_self(principal: Principal, user_id: str) -> None:
    """403 unless ``user_id`` is the caller's own (admins may act for anyone); 422 if malformed."""
    try:
        check_user_id(user_id)
    except InputError as err:
        raise ApiError(422, "invalid_request", str(err)) from None
    if user_id != principal.user_id and not principal.is_admin:
        raise forbidden(
            f"user_id {user_id} is not the signed-in user's ({principal.user_id})", reason="not_own_user_id"
        )


def require_self(user_id: str, principal: Principal = Depends(require_user)) -> Principal:
    """For routes with a ``user_id`` path or query parameter (FastAPI fills it by name)."""
    ensure_self(principal, user_id)
    return principal


# --------------------------------------------------------------------------------------------
# rate limits
# --------------------------------------------------------------------------------------------


def client_ip(request: Request, trusted_proxy_hops: int = 0) -> str:
    """The client address; with N trusted proxies, the N-th ``X-Forwarded-For`` entry from the right.

    Entries further left are supplied by the client and cannot be trusted.
    """
    if trusted_proxy_hops > 0:
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
        if len(hops) >= trusted_proxy_hops:
            return hops[-trusted_proxy_hops]
    return request.client.host if request.client else "unknown"


def _charge(request: Request, scope: str, key: str, cost: float) -> None:
    limiter: RateLimiter = _state(request, "rate_limiter")
    policies: RatePolicies = _state(request, "rate_policies")
    policy = policies.per_ip if scope == "ip" else policies.per_user
    decision = limiter.hit(f"{scope}:{key}", policy, min(cost, float(policy.burst)))
    if not decision.allowed:
        raise RateLimited(scope, decision)


def rate_limit_ip(cost: float = 1.0) -> Callable[..., None]:
    """Dependency factory: charge the caller's IP bucket (public routes such as login)."""

    def dependency(request: Request) -> None:
        settings = get_settings(request)
        _charge(request, "ip", client_ip(request, settings.trusted_proxy_hops), cost)

    return dependency


def rate_limit(cost: float = 1.0) -> Callable[..., Principal]:
    """Dependency factory: IP bucket first (even before auth), then the caller's user bucket.

    Returns the :class:`Principal`, so ``principal = Depends(rate_limit(cost=5))`` both
    authenticates and limits an expensive route (e.g. chat).
    """

    def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
    ) -> Principal:
        settings = get_settings(request)
        _charge(request, "ip", client_ip(request, settings.trusted_proxy_hops), cost)
        principal = require_user(request, credentials)
        _charge(request, "user", principal.user_id, cost)
        return principal

    return dependency


# --------------------------------------------------------------------------------------------
# input bounds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


def pagination(
    offset: int = Query(0, ge=0, le=OFFSET_MAX, description="items to skip"),
    limit: int = Query(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX, description=f"page size (1–{PAGE_SIZE_MAX})"),
) -> Page:
    return Page(offset, limit)


# --------------------------------------------------------------------------------------------
# ASGI middleware
# --------------------------------------------------------------------------------------------


class BodySizeLimitMiddleware:
    """413 for bodies over ``max_bytes``: by ``Content-Length`` up front, else while streaming.

    Chunked uploads without a length are counted as they arrive; the limit is enforced by
    raising :class:`PayloadTooLarge` (an HTTPException) from ``receive``, which FastAPI re-raises
    and the installed handler renders. If nothing downstream renders it, this middleware does.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                length = value
                break
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await self._reply(scope, send, 400, "invalid_request", "Content-Length is not an integer")
                return
            if declared > self.max_bytes:
                await self._reply(scope, send, 413, "payload_too_large",
                                  f"request body exceeds {self.max_bytes:,} bytes (MAX_REQUEST_BODY_BYTES)")
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge as exc:
            if started:
                raise
            await self._reply(scope, send, 413, exc.error, str(exc.detail))

    @staticmethod
    async def _reply(scope: Scope, send: Send, status: int, error: str, detail: str) -> None:
        body: dict[str, str] = {"error": error, "detail": detail}
        rid = (scope.get("state") or {}).get("request_id")
        if isinstance(rid, str):
            body["request_id"] = rid
        response = JSONResponse(body, status_code=status)
        await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class AlertOnErrorMiddleware:
    """Unhandled exceptions → a (deduplicated, scrubbed) Slack alert, then re-raised.

    Only method and path go into the alert — never the query string, headers or body, which may
    carry tokens or personal data.
    """

    def __init__(self, app: ASGIApp, get_alerter: Callable[[], SlackAlerter | None]) -> None:
        self.app = app
        self.get_alerter = get_alerter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            if scope["type"] == "http" and not isinstance(exc, HTTPException):
                alerter = self.get_alerter()
                if alerter is not None:
                    alerter.alert(
                        "unhandled API exception",
                        error=exc,
                        context={"route": f"{scope.get('method', '?')} {scope.get('path', '?')}"},
                    )
            raise


# --------------------------------------------------------------------------------------------
# installation
# --------------------------------------------------------------------------------------------


def install_security(
    app: FastAPI,
    settings: Settings,
    *,
    auth: AuthService | None = None,
    rate_limiter: RateLimiter | None = None,
    alerter: SlackAlerter | None = None,
    redact_logs: bool = True,
) -> None:
    """Put the security collaborators on ``app.state`` and add handlers and middleware.

    Call once per app, before it starts serving (Starlette refuses middleware afterwards).
    Pass ``auth``/``rate_limiter``/``alerter`` to override the ones built from ``settings``
    (tests use this for a fake clock or a fake Kakao client).
    """
    app.state.settings = settings
    app.state.auth = auth or AuthService.from_settings(settings)
    app.state.rate_limiter = rate_limiter or open_rate_limiter(settings)
    app.state.rate_policies = RatePolicies.from_settings(settings)
    app.state.alerter = alerter or SlackAlerter.from_settings(settings)

    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(AuthError, auth_error_handler)
    app.add_exception_handler(RateLimited, rate_limited_handler)
    app.add_exception_handler(InputError, input_error_handler)

    # Added last = outermost: the body limit runs before anything reads the body.
    app.add_middleware(AlertOnErrorMiddleware, get_alerter=lambda: getattr(app.state, "alerter", None))
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)

    if redact_logs:
        install_log_redaction(extra_secrets=secrets_of(settings))
