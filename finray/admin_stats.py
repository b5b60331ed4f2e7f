"""Admin statistics computed from what every store returns (chat logs and feedback).

The aggregations are pure functions over records, so both backends give the same numbers and the
contract suite covers the data they read. "API requests" counts the AI calls the service records
(recommendations, chat answers, forecasts); conversations are chat answers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from pydantic import BaseModel

from finray.stores.base import ChatLog, Feedback


class Overview(BaseModel):
    users_active: int
    conversations: int
    api_requests: int
    recommendations: int
    forecasts: int
    feedback_total: int
    likes: int
    dislikes: int
    avg_latency_ms: float | None
    fallback_rate: float | None  # share of answers where the offline fallback replaced the model


class DayTrend(BaseModel):
    day: date
    conversations: int
    api_requests: int


class FeedbackDistribution(BaseModel):
    total: int
    by_rating: dict[str, int]
    by_target: dict[str, dict[str, int]]
    top_disliked_products: list[tuple[str, int]]
    top_liked_products: list[tuple[str, int]]


class UserUsage(BaseModel):
    user_id: str
    conversations: int
    api_requests: int
    feedback: int
    last_active: datetime | None


def overview(logs: Sequence[ChatLog], feedback: Sequence[Feedback]) -> Overview:
    kinds = Counter(log.kind for log in logs)
    ratings = Counter(f.rating for f in feedback)
    lat = [log.latency_ms for log in logs if log.latency_ms > 0]
    answered = [log for log in logs if log.kind == "chat"]
    fallbacks = sum(1 for log in answered if "→offline" in log.generator)
    return Overview(
        users_active=len({log.user_id for log in logs} | {f.user_id for f in feedback}),
        conversations=kinds["chat"],
        api_requests=len(logs),
        recommendations=kinds["recommendation"],
        forecasts=kinds["forecast"],
        feedback_total=len(feedback),
        likes=ratings["like"],
        dislikes=ratings["dislike"],
        avg_latency_ms=round(sum(lat) / len(lat), 1) if lat else None,
        fallback_rate=round(fallbacks / len(answered), 4) if answered else None,
    )


def trends(logs: Iterable[ChatLog], start: date, end: date) -> list[DayTrend]:
    """One row per day in [start, end], zero-filled, so charts have no gaps."""
    conv: Counter[date] = Counter()
    reqs: Counter[date] = Counter()
    for log in logs:
        d = log.created_at.date()
        reqs[d] += 1
        if log.kind == "chat":
            conv[d] += 1
    days = (end - start).days
    return [
        DayTrend(day=start + timedelta(days=i), conversations=conv[start + timedelta(days=i)],
                 api_requests=reqs[start + timedelta(days=i)])
        for i in range(days + 1)
    ]


def feedback_distribution(feedback: Sequence[Feedback], top: int = 5) -> FeedbackDistribution:
    by_target: defaultdict[str, Counter[str]] = defaultdict(Counter)
    liked: Counter[str] = Counter()
    disliked: Counter[str] = Counter()
    for f in feedback:
        by_target[f.target][f.rating] += 1
        if f.target == "product":
            (liked if f.rating == "like" else disliked)[f.target_id] += 1
    return FeedbackDistribution(
        total=len(feedback),
        by_rating=dict(Counter(f.rating for f in feedback)),
        by_target={t: dict(c) for t, c in sorted(by_target.items())},
        top_disliked_products=disliked.most_common(top),
        top_liked_products=liked.most_common(top),
    )


def user_usage(logs: Sequence[ChatLog], feedback: Sequence[Feedback]) -> list[UserUsage]:
    """Per-user AI usage, most active first."""
    conv: Counter[str] = Counter()
    reqs: Counter[str] = Counter()
    fb: Counter[str] = Counter(f.user_id for f in feedback)
    last: dict[str, datetime] = {}
    for log in logs:
        reqs[log.user_id] += 1
        if log.kind == "chat":
            conv[log.user_id] += 1
        if log.user_id not in last or log.created_at > last[log.user_id]:
            last[log.user_id] = log.created_at
    users = set(reqs) | set(fb)
    rows = [
        UserUsage(user_id=u, conversations=conv[u], api_requests=reqs[u], feedback=fb[u], last_active=last.get(u))
        for u in users
    ]
    return sorted(rows, key=lambda r: (-r.api_requests, -r.feedback, r.user_id))
