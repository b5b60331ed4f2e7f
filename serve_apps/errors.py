"""Every error as JSON ``{"error": kind, "detail": ..., "request_id": ...}``.

Kinds: ``not_found`` (404), ``invalid_request`` (422: a field failed validation; the detail names
the field), ``conflict`` (409: e.g. the store was built by another embedder),
``service_unavailable`` (503: the catalogue is not loaded yet, Serve is overloaded),
``internal_error`` (500: logged with the request id, the client gets only the id).

Domain errors raised inside other deployments come back through DeploymentHandles as
``RayTaskError`` subclasses of the original class, so the handlers below catch them by their
domain type wherever they were raised.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from finray.agent.service import UnknownUserError
from finray.stores.base import EmbedderMismatchError
from finray.users.db import UserDBError
from serve_apps.api_models import ErrorBody
from serve_apps.observability import log

_KIND_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ServiceError(Exception):
    """An error with an HTTP status and a kind, raised by routes and rendered as :class:`ErrorBody`."""

    status_code = 500
    kind = "internal_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    status_code, kind = 404, "not_found"


class InvalidRequest(ServiceError):
    status_code, kind = 422, "invalid_request"


class Conflict(ServiceError):
    status_code, kind = 409, "conflict"


class Unavailable(ServiceError):
    status_code, kind = 503, "service_unavailable"


def cause_of(exc: BaseException) -> BaseException:
    """The original exception of one raised in another deployment (RayTaskError keeps it)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def first_line(exc: BaseException) -> str:
    text = str(cause_of(exc)).strip()
    return text.splitlines()[0] if text else type(cause_of(exc)).__name__


def request_id_of(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else None


def error_response(request: Request, status: int, kind: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=kind, detail=detail, request_id=request_id_of(request))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    where = loc[0] if loc and loc[0] in ("body", "query", "path", "header") else None
    name = ".".join(parts) or "body"
    return f"{where} {name}" if where and where != "body" else name


def validation_detail(exc: RequestValidationError) -> str:
    """One line per failed field: ``query k: Input should be less than or equal to 50``."""
    lines = []
    for err in exc.errors()[:5]:
        kind = err.get("type")
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        loc = tuple(err.get("loc", ()))
        if kind == "json_invalid":
            lines.append(f"body is not valid JSON: {err.get('ctx', {}).get('error', 'parse error')}")
            continue
        if kind == "missing":
            msg = "is required"
        if loc == ("body",) and ":" in msg:  # a model-level check that names its field itself
            lines.append(msg)
            continue
        lines.append(f"{_field(loc)}: {msg}")
    return "; ".join(lines)


def install_error_handlers(app: FastAPI) -> None:
    async def service_error(request: Request, exc: Exception) -> JSONResponse:
        err = cause_of(exc)
        assert isinstance(err, ServiceError)
        return error_response(request, err.status_code, err.kind, err.detail)

    async def unknown_user(request: Request, exc: Exception) -> JSONResponse:
        err = cause_of(exc)
        assert isinstance(err, UnknownUserError)
        return error_response(request, 404, "not_found", f"user {err.user_id} does not exist")

    async def embedder_mismatch(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request, 409, "conflict", first_line(exc))

    async def user_db(request: Request, exc: Exception) -> JSONResponse:
        log.error("user DB unavailable: %s", first_line(exc))
        return error_response(request, 503, "service_unavailable", first_line(exc))

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, 422, "invalid_request", validation_detail(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = _KIND_BY_STATUS.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}"
        return error_response(request, exc.status_code, kind, detail, headers=getattr(exc, "headers", None))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal_error", "internal error; quote the request_id when reporting it")

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(UnknownUserError, unknown_user)
    app.add_exception_handler(EmbedderMismatchError, embedder_mismatch)
    app.add_exception_handler(UserDBError, user_db)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
