"""What the admin endpoints read: chat logs and feedback in a date window, aggregated.

:mod:`finray.admin_stats` holds the pure aggregations; this module only decides *which* records
they see. Windows are whole days in UTC, both ends inclusive (``start=2026-11-01&end=2026-11-30``
is November), which is how an admin reads a date picker; the store's ``end`` is exclusive, so one
day is added when asking it. A window is validated here once, with messages naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from finray.admin_stats import (
    DayTrend,
    FeedbackDistribution,
    Overview,
    UserUsage,
    feedback_distribution,
    overview,
    trends,
    user_usage,
)
from finray.stores.base import ChatLog, Feedback, Store

#: Longest window a per-day trend covers (one row per day).
MAX_TREND_DAYS = 366
DEFAULT_TREND_DAYS = 30
#: Logs read for one aggregate; beyond this the admin must narrow the window.
MAX_AGGREGATE_LOGS = 200_000


class WindowError(ValueError):
    """A date window is invalid; the message names the parameter."""


@dataclass(frozen=True)
class Window:
    start: date | None
    end: date | None

    @property
    def start_at(self) -> datetime | None:
        return datetime.combine(self.start, time.min, UTC) if self.start else None

    @property
    def end_before(self) -> datetime | None:
        """Exclusive upper bound: midnight after ``end``."""
        return datetime.combine(self.end + timedelta(days=1), time.min, UTC) if self.end else None

    def contains(self, at: datetime) -> bool:
        day = (at.astimezone(UTC) if at.tzinfo else at).date()
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


def window(start: date | None, end: date | None) -> Window:
    if start is not None and end is not None and start > end:
        raise WindowError(f"start ({start}) is after end ({end})")
    return Window(start, end)


def trend_window(start: date | None, end: date | None, today: date) -> Window:
    """A bounded window for per-day rows: the last 30 days by default, at most 366 days."""
    end = end or today
    start = start or end - timedelta(days=DEFAULT_TREND_DAYS - 1)
    w = window(start, end)
    days = (end - start).days + 1
    if days > MAX_TREND_DAYS:
        raise WindowError(f"window is {days} days; trends cover at most {MAX_TREND_DAYS} days")
    return w


def logs_in(store: Store, w: Window, user_id: str | None = None) -> list[ChatLog]:
    logs, total = store.chat_logs(user_id, w.start_at, w.end_before, 0, MAX_AGGREGATE_LOGS)
    if total > MAX_AGGREGATE_LOGS:
        raise WindowError(
            f"{total:,} logs in this window; narrow start/end to at most {MAX_AGGREGATE_LOGS:,} logs"
        )
    return logs


def feedback_in(store: Store, w: Window) -> list[Feedback]:
    return [f for f in store.feedback() if w.contains(f.created_at)]


def overview_report(store: Store, w: Window) -> Overview:
    return overview(logs_in(store, w), feedback_in(store, w))


def trends_report(store: Store, w: Window) -> list[DayTrend]:
    assert w.start is not None and w.end is not None, "use trend_window()"
    return trends(logs_in(store, w), w.start, w.end)


def feedback_report(store: Store, w: Window) -> FeedbackDistribution:
    return feedback_distribution(feedback_in(store, w))


def usage_report(store: Store, w: Window) -> list[UserUsage]:
    return user_usage(logs_in(store, w), feedback_in(store, w))
