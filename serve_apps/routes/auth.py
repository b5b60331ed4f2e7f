"""``/api/v1/auth``: Kakao login, token refresh and logout, dev login, who-am-I, account links.

Needs :func:`serve_apps.security.install_security` on the app (collaborators on ``app.state``,
JSON error handlers). Handlers are plain ``def``: they do blocking I/O (Kakao over httpx, the
auth store), which FastAPI runs in its thread pool.

Token responses carry ``Cache-Control: no-store`` (RFC 6749 §5.1). The Kakao ``state`` travels
both in the store and in an HttpOnly, SameSite=Lax cookie scoped to ``/api/v1/auth/kakao``
(``Secure`` in prod), so the callback only completes in the browser that started the login.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Cookie, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from finray.auth import InvalidToken, NotLinked, Principal, TokenPair
from finray.auth.service import DEV_USERS_MAX
from finray.limits import USER_ID_PATTERN
from finray.users.models import RISK_PROFILE_KO
from serve_apps.security import (
    ERROR_RESPONSES,
    ApiError,
    SecurityErrorBody,
    bearer_scheme,
    get_auth,
    get_settings,
    rate_limit_ip,
    require_admin,
    require_user,
)

PREFIX = "/api/v1/auth"
STATE_COOKIE = "finray_kakao_state"
STATE_COOKIE_PATH = f"{PREFIX}/kakao"

router = APIRouter(prefix=PREFIX, tags=["auth"])

_LOGIN_ERRORS = {
    400: {"model": SecurityErrorBody, "description": "bad state, bad/expired code, or login denied"},
    403: {"model": SecurityErrorBody, "description": "Kakao account not linked to a customer"},
    429: ERROR_RESPONSES[429],
    502: {"model": SecurityErrorBody, "description": "Kakao unreachable or its user-info failed"},
    503: {"model": SecurityErrorBody, "description": "Kakao login not configured"},
}


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="access token lifetime, seconds")
    refresh_token: str
    refresh_expires_in: int = Field(description="refresh token lifetime, seconds")
    user_id: str

    @classmethod
    def of(cls, pair: TokenPair) -> TokenResponse:
        return cls(
            access_token=pair.access_token, expires_in=pair.access_expires_in,
            refresh_token=pair.refresh_token, refresh_expires_in=pair.refresh_expires_in,
            user_id=pair.user_id,
        )


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(BaseModel):
    refresh_token: str | None = Field(None, min_length=1, max_length=200)


class DevLoginRequest(BaseModel):
    user_id: str = Field(pattern=USER_ID_PATTERN, examples=["U0000001"])


class DevUser(BaseModel):
    user_id: str
    age: int
    gender: str
    risk_profile: int
    risk_profile_ko: str


class MeResponse(BaseModel):
    user_id: str
    roles: list[str]
    session_id: str
    access_expires_at: datetime


class LinkRequest(BaseModel):
    kakao_id: int = Field(gt=0, lt=2**63, description="Kakao 회원번호 (the id of /v2/user/me)")
    user_id: str = Field(pattern=USER_ID_PATTERN)


class LinkResponse(BaseModel):
    kakao_id: int
    user_id: str


def _tokens(pair: TokenPair, response: Response) -> TokenResponse:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenResponse.of(pair)


@router.get(
    "/kakao/login",
    status_code=307,
    response_class=RedirectResponse,
    responses={307: {"description": "redirect to Kakao's authorize page"}, **_LOGIN_ERRORS},
    summary="Start Kakao login (redirects to kauth.kakao.com)",
    dependencies=[Depends(rate_limit_ip())],
)
def kakao_login(request: Request) -> RedirectResponse:
    start = get_auth(request).begin_kakao_login()
    redirect = RedirectResponse(start.authorize_url, status_code=307)
    redirect.set_cookie(
        STATE_COOKIE, start.state, max_age=start.expires_in, path=STATE_COOKIE_PATH,
        httponly=True, samesite="lax", secure=get_settings(request).env == "prod",
    )
    redirect.headers["Cache-Control"] = "no-store"
    return redirect


@router.get(
    "/kakao/callback",
    response_model=TokenResponse,
    responses=_LOGIN_ERRORS,
    summary="Kakao redirects here with code and state; answers with our tokens",
    dependencies=[Depends(rate_limit_ip())],
)
def kakao_callback(
    request: Request,
    response: Response,
    code: str | None = Query(None, max_length=1000),
    state: str | None = Query(None, max_length=200),
    error: str | None = Query(None, max_length=200),
    error_description: str | None = Query(None, max_length=500),
    state_cookie: str | None = Cookie(None, alias=STATE_COOKIE, max_length=200),
) -> TokenResponse:
    pair = get_auth(request).complete_kakao_login(
        code=code, state=state, cookie_state=state_cookie, error=error, error_description=error_description
    )
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
    return _tokens(pair, response)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses={401: ERROR_RESPONSES[401], 429: ERROR_RESPONSES[429]},
    summary="Rotate: trade a refresh token (once) for a new token pair",
    dependencies=[Depends(rate_limit_ip())],
)
def refresh(body: RefreshRequest, request: Request, response: Response) -> TokenResponse:
    return _tokens(get_auth(request).refresh(body.refresh_token), response)


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    responses={401: ERROR_RESPONSES[401], 429: ERROR_RESPONSES[429]},
    summary="Sign out: revoke the session (access token and/or refresh token)",
    dependencies=[Depends(rate_limit_ip())],
)
def logout(
    request: Request,
    body: LogoutRequest | None = None,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
) -> Response:
    auth = get_auth(request)
    refresh_token = body.refresh_token if body else None
    principal: Principal | None = None
    if credentials is not None:
        try:
            principal = auth.verify(credentials.credentials)
        except InvalidToken:
            if not refresh_token:  # an expired access token alone cannot say which session
                raise
    auth.logout(principal, refresh_token)
    return Response(status_code=204)


@router.get(
    "/me",
    response_model=MeResponse,
    responses={401: ERROR_RESPONSES[401]},
    summary="Who the access token belongs to",
)
def me(principal: Principal = Depends(require_user)) -> MeResponse:
    return MeResponse(
        user_id=principal.user_id, roles=list(principal.roles), session_id=principal.session_id,
        access_expires_at=datetime.fromtimestamp(principal.expires_at, UTC),
    )


@router.get(
    "/dev-users",
    response_model=list[DevUser],
    responses={403: {"model": SecurityErrorBody, "description": "dev login disabled"}, 429: ERROR_RESPONSES[429]},
    summary="Demo users to sign in as (only with AUTH_DEV_LOGIN=true)",
    dependencies=[Depends(rate_limit_ip())],
)
def dev_users(request: Request, limit: int = Query(20, ge=1, le=DEV_USERS_MAX)) -> list[DevUser]:
    return [
        DevUser(user_id=u.user_id, age=u.age, gender=u.gender, risk_profile=u.risk_profile,
                risk_profile_ko=RISK_PROFILE_KO[u.risk_profile])
        for u in get_auth(request).dev_users(limit)
    ]


@router.post(
    "/dev-login",
    response_model=TokenResponse,
    responses={
        400: {"model": SecurityErrorBody, "description": "no such demo user"},
        403: {"model": SecurityErrorBody, "description": "dev login disabled"},
        429: ERROR_RESPONSES[429],
    },
    summary="Sign in as a demo user without Kakao (only with AUTH_DEV_LOGIN=true)",
    dependencies=[Depends(rate_limit_ip())],
)
def dev_login(body: DevLoginRequest, request: Request, response: Response) -> TokenResponse:
    return _tokens(get_auth(request).dev_login(body.user_id), response)


@router.post(
    "/links",
    response_model=LinkResponse,
    responses={**ERROR_RESPONSES, 422: {"model": SecurityErrorBody, "description": "unknown customer"}},
    summary="Admin: link a Kakao account to a customer",
)
def link_account(body: LinkRequest, request: Request, _admin: Principal = Depends(require_admin)) -> LinkResponse:
    try:
        get_auth(request).links.link(body.kakao_id, body.user_id)
    except NotLinked:
        raise ApiError(422, "invalid_request", f"no customer {body.user_id} in the user DB") from None
    return LinkResponse(kakao_id=body.kakao_id, user_id=body.user_id)


@router.delete(
    "/links/{kakao_id}",
    status_code=204,
    response_class=Response,
    responses={**ERROR_RESPONSES, 404: {"model": SecurityErrorBody, "description": "no such link"}},
    summary="Admin: remove a Kakao account link",
)
def unlink_account(kakao_id: int, request: Request, _admin: Principal = Depends(require_admin)) -> Response:
    if not get_auth(request).links.unlink(kakao_id):
        raise ApiError(404, "not_found", f"no link for Kakao account {kakao_id}")
    return Response(status_code=204)
