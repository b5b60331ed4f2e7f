"""Admin statistics and logs: ``/api/v1/admin/...``.

Date windows are whole UTC days, both ends inclusive (see :mod:`finray.admin_report`); lists
are paginated with ``offset``/``limit``. These routes are for the operations team; the auth
layer restricts them to the admin role when it is mounted (``serve_apps/routes/__init__.py``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from finray import admin_report
from finray.limits import OFFSET_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from finray.users.db import fetch_user
from serve_apps.api_models import (
    FeedbackStatsResponse,
    LogPage,
    OverviewResponse,
    TrendsResponse,
    UserUsagePage,
)
from serve_apps.deps import ServicesDep, UserIdPath
from serve_apps.errors import InvalidRequest, NotFound

router = APIRouter(prefix="/admin", tags=["admin"])

Start = Annotated[date | None, Query(description="first day (UTC), inclusive, YYYY-MM-DD")]
End = Annotated[date | None, Query(description="last day (UTC), inclusive, YYYY-MM-DD")]
Offset = Annotated[int, Query(ge=0, le=OFFSET_MAX, description="items to skip")]
Limit = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX, description=f"page size (1–{PAGE_SIZE_MAX})")]


def _window(start: date | None, end: date | None) -> admin_report.Window:
    try:
        return admin_report.window(start, end)
    except admin_report.WindowError as err:
        raise InvalidRequest(str(err)) from None


# Sync routes: FastAPI runs them in its threadpool, where blocking store reads belong.
@router.get("/stats/overview", response_model=OverviewResponse, summary="Totals: users, conversations, feedback, latency")
def stats_overview(services: ServicesDep, start: Start = None, end: End = None) -> OverviewResponse:
    w = _window(start, end)
    try:
        stats = admin_report.overview_report(services.store, w)
    except admin_report.WindowError as err:
        raise InvalidRequest(str(err)) from None
    return OverviewResponse(**stats.model_dump(), start=start, end=end)


@router.get("/stats/trends", response_model=TrendsResponse, summary="Per day: conversations and API requests")
def stats_trends(services: ServicesDep, start: Start = None, end: End = None) -> TrendsResponse:
    try:
        w = admin_report.trend_window(start, end, datetime.now(UTC).date())
        days = admin_report.trends_report(services.store, w)
    except admin_report.WindowError as err:
        raise InvalidRequest(str(err)) from None
    assert w.start is not None and w.end is not None
    return TrendsResponse(start=w.start, end=w.end, days=days)


@router.get("/stats/feedback", response_model=FeedbackStatsResponse, summary="Feedback distribution")
def stats_feedback(services: ServicesDep, start: Start = None, end: End = None) -> FeedbackStatsResponse:
    stats = admin_report.feedback_report(services.store, _window(start, end))
    return FeedbackStatsResponse(**stats.model_dump(), start=start, end=end)


@router.get("/users", response_model=UserUsagePage, summary="Per-user AI usage, most active first")
def users_usage(
    services: ServicesDep, start: Start = None, end: End = None, offset: Offset = 0, limit: Limit = PAGE_SIZE_DEFAULT,
) -> UserUsagePage:
    try:
        rows = admin_report.usage_report(services.store, _window(start, end))
    except admin_report.WindowError as err:
        raise InvalidRequest(str(err)) from None
    return UserUsagePage(
        total=len(rows), offset=offset, limit=limit, start=start, end=end, items=rows[offset : offset + limit]
    )


@router.get("/logs", response_model=LogPage, summary="Chat and recommendation logs, newest first")
def logs(services: ServicesDep, start: Start = None, end: End = None, offset: Offset = 0, limit: Limit = PAGE_SIZE_DEFAULT) -> LogPage:
    w = _window(start, end)
    items, total = services.store.chat_logs(None, w.start_at, w.end_before, offset, limit)
    return LogPage(total=total, offset=offset, limit=limit, start=start, end=end, items=items)


@router.get("/logs/{user_id}", response_model=LogPage, summary="One user's logs, newest first")
def user_logs(
    user_id: UserIdPath, services: ServicesDep, start: Start = None, end: End = None,
    offset: Offset = 0, limit: Limit = PAGE_SIZE_DEFAULT,
) -> LogPage:
    w = _window(start, end)
    if fetch_user(services.user_db, user_id) is None:
        raise NotFound(f"user {user_id} does not exist")
    items, total = services.store.chat_logs(user_id, w.start_at, w.end_before, offset, limit)
    return LogPage(total=total, offset=offset, limit=limit, start=start, end=end, items=items)
