"""The whole application through Ray Serve and real HTTP (one Serve start per session).

Data: the real bundled catalogue with a sample embedded by the real e5 model, and seeded demo
users (see ``tests/serve_fixtures.py``). Every endpoint is exercised: status, product search in
three modes, recommendations with filters, suitability exclusions, feedback reranking, the SSE
chat stream, vectorize, admin statistics and logs, RiskXpert forecasts, and the JSON error contract.

Every ``/api/v1`` call carries an access token got the way a client gets one (dev login through
Serve, ``tests/serve_fixtures.py``), and the security layer is tested end to end here: 401 without
or with a bad token, 403 for another customer's ``user_id`` and for admin routes, 429 with
``Retry-After``, 413, refresh rotation and logout, PII masked in the stored logs.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from finray.chatlog import LOG_ID_PATTERN
from finray.products.model import ProductType
from finray.stores.factory import open_store
from finray.users.db import create_readonly_engine, fetch_users
from serve_apps import sse
from tests.serve_fixtures import (  # noqa: F401 - pytest fixtures
    EDGE_USER_BURST,
    ServeAuth,
    ServeHome,
    auth,
    edge_url,
    serve_home,
    serve_url,
)

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]

QUESTION = "12개월 정기예금 중에서 금리가 높은 상품을 추천해 주세요"


@pytest.fixture(scope="module")
def client(serve_url: str) -> httpx.Client:  # noqa: F811 - pytest fixture injection
    with httpx.Client(base_url=serve_url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def users_by_profile(serve_home: ServeHome) -> dict[int, list[str]]:  # noqa: F811
    engine = create_readonly_engine(serve_home.settings.resolved_user_db_url)
    try:
        records = fetch_users(engine, serve_home.embedded_users)
    finally:
        engine.dispose()
    out: dict[int, list[str]] = {}
    for u in records:
        out.setdefault(u.risk_profile, []).append(u.user_id)
    return out


def _error(r: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"] == kind and body["detail"] and body["request_id"]
    assert body["request_id"] == r.headers["x-request-id"]
    return body


def _chat(client: httpx.Client, headers: dict[str, str], **body: Any) -> tuple[httpx.Response, list[tuple[str, Any]]]:
    r = client.post("/api/v1/chat/stream", json=body, headers=headers)
    return r, sse.parse(r.text) if r.status_code == 200 else []


def _wait_for_logs(client: httpx.Client, auth: ServeAuth, user_id: str, at_least: int) -> dict[str, Any]:  # noqa: F811
    """Chat logs are written by a background writer (≤ 0.5 s behind): poll until they land."""
    deadline = time.monotonic() + 20
    while True:
        page = client.get(f"/api/v1/admin/logs/{user_id}", params={"limit": 100}, headers=auth.admin_headers()).json()
        if page["total"] >= at_least or time.monotonic() > deadline:
            return page
        time.sleep(0.3)


# ---------------------------------------------------------------------------------------------
# status, docs, errors
# ---------------------------------------------------------------------------------------------
def test_status_reports_backends_and_catalogue(client: httpx.Client, serve_home: ServeHome) -> None:  # noqa: F811
    r = client.get("/")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["backends"]["store"] == "lance" and body["backends"]["llm"] == "offline"
    cat = body["catalogue"]
    assert cat["total_active"] > 1000  # the whole bundled catalogue was collected
    assert cat["indexed"] == len(serve_home.sample)  # only the sample is searchable
    assert cat["index_embedder"].startswith("e5:")
    assert {s["source"] for s in cat["sources"]} >= {"finlife:deposit", "funds:kb"}


def test_openapi_lists_every_endpoint(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/", "/api/v1/products/search", "/api/v1/recommendations/{user_id}", "/api/v1/chat/stream",
        "/api/v1/chat/feedback", "/api/v1/users/{user_id}/vectorize", "/api/v1/admin/stats/overview",
        "/api/v1/admin/stats/trends", "/api/v1/admin/stats/feedback", "/api/v1/admin/users",
        "/api/v1/admin/logs", "/api/v1/admin/logs/{user_id}",
        "/api/v1/forecast", "/api/v1/forecast/stream",
        "/api/v1/auth/kakao/login", "/api/v1/auth/kakao/callback", "/api/v1/auth/refresh", "/api/v1/auth/logout",
        "/api/v1/auth/me", "/api/v1/auth/dev-users", "/api/v1/auth/dev-login",
    }
    assert expected <= set(paths)
    assert client.get("/docs").status_code == 200


def test_errors_are_json_with_request_id(client: httpx.Client, auth: ServeAuth) -> None:  # noqa: F811
    rid = f"test-{uuid.uuid4().hex[:12]}"
    admin = auth.admin_headers()  # admins may name any user_id, so unknown ones reach the 404
    r = client.get("/api/v1/recommendations/U9999999", headers={**admin, "X-Request-ID": rid})
    body = _error(r, 404, "not_found")
    assert body["request_id"] == rid and "U9999999" in body["detail"]

    body = _error(client.get("/api/v1/recommendations/nobody", headers=admin), 422, "invalid_request")
    assert "user_id" in body["detail"]
    body = _error(client.get("/api/v1/recommendations/U0000001", params={"k": 99, "type": "bond"}, headers=admin),
                  422, "invalid_request")
    assert "query k" in body["detail"] and "query type" in body["detail"]
    _error(client.get("/api/v1/no-such-route"), 404, "not_found")
    body = _error(client.get("/api/v1/products/search", params={"q": "   "}, headers=admin), 422, "invalid_request")
    assert "q" in body["detail"] and "blank" in body["detail"]
    _error(client.get("/api/v1/products/search", params={"q": "예금", "mode": "semantic"}, headers=admin),
           422, "invalid_request")
    r = client.post("/api/v1/chat/stream", content=b"{not json", headers={**admin, "content-type": "application/json"})
    assert "not valid JSON" in _error(r, 422, "invalid_request")["detail"]
    assert client.get("/", headers={"X-Request-ID": rid}).headers["x-request-id"] == rid


# ---------------------------------------------------------------------------------------------
# product search
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def searcher(auth: ServeAuth, serve_home: ServeHome) -> dict[str, str]:  # noqa: F811
    """Headers of a signed-in customer for routes that are about no user in particular."""
    return auth.headers(serve_home.embedded_users[10])


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_search_in_three_modes(client: httpx.Client, searcher: dict[str, str], mode: str) -> None:
    r = client.get("/api/v1/products/search", params={"q": "정기예금 12개월 금리", "mode": mode, "k": 5}, headers=searcher)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == mode and body["request_id"] == r.headers["x-request-id"]
    hits = body["hits"]
    assert 1 <= len(hits) <= 5
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    for h in hits:
        assert h["provider"] and h["name"] and h["product_type_ko"] and isinstance(h["key_numbers"], dict)
    assert any(h["product_type"] == "deposit" for h in hits)


def test_search_filters_by_type_and_term(client: httpx.Client, searcher: dict[str, str]) -> None:
    r = client.get("/api/v1/products/search", params={"q": "노후 대비", "type": ["fund", "annuity"], "k": 8}, headers=searcher)
    hits = r.json()["hits"]
    assert hits and {h["product_type"] for h in hits} <= {"fund", "annuity"}
    r = client.get("/api/v1/products/search", params={"q": "적금", "type": "saving", "term_months": 24}, headers=searcher)
    hits = r.json()["hits"]
    assert hits and all(h["product_type"] == "saving" and 24 in h["terms"] for h in hits)
    assert all(h["key_numbers"].get("기간") == "24개월" for h in hits)  # key numbers for the asked term


# ---------------------------------------------------------------------------------------------
# recommendations
# ---------------------------------------------------------------------------------------------
def test_recommendations_have_reasons_numbers_and_notes(client: httpx.Client, serve_home: ServeHome, auth: ServeAuth) -> None:  # noqa: F811
    user = serve_home.embedded_users[0]
    r = client.get(f"/api/v1/recommendations/{user}", params={"k": 4}, headers=auth.headers(user))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user_id"] == user and body["generator"] == "offline" and body["verified"] is True
    assert re.fullmatch(LOG_ID_PATTERN, body["log_id"])
    items = body["items"]
    assert 1 <= len(items) <= 4
    for it in items:
        assert it["reason"] and it["suitability_note"] and it["key_numbers"]
        assert f"「{it['name']}」" in body["summary"]  # the text cites every recommended product
    sample_ids = {p.product_id for p in serve_home.sample}
    assert {it["product_id"] for it in items} <= sample_ids


def test_recommendation_filters(client: httpx.Client, serve_home: ServeHome, auth: ServeAuth) -> None:  # noqa: F811
    user = serve_home.embedded_users[1]
    h = auth.headers(user)
    r = client.get(f"/api/v1/recommendations/{user}", params={"type": "deposit", "term_months": 12, "k": 5}, headers=h)
    items = r.json()["items"]
    assert items and all(i["product_type"] == "deposit" and 12 in i["terms"] for i in items)
    assert all(i["key_numbers"]["기간"] == "12개월" for i in items)

    provider = items[0]["provider"]
    r = client.get(f"/api/v1/recommendations/{user}", params={"provider": provider, "k": 5}, headers=h)
    assert {i["provider"] for i in r.json()["items"]} == {provider}

    # amount: products whose 최고한도 is below it are left out
    limited = sorted((p for p in serve_home.sample if p.max_limit), key=lambda p: p.max_limit or 0)
    assert limited, "the sample must hold products with a stated limit"
    amount = (limited[0].max_limit or 0) + 1
    r = client.get(f"/api/v1/recommendations/{user}", params={"type": ["deposit", "saving"], "amount": amount, "k": 10},
                   headers=h)
    by_id = {p.product_id: p for p in serve_home.sample}
    got = [by_id[i["product_id"]] for i in r.json()["items"]]
    assert got and all(p.max_limit is None or p.max_limit >= amount for p in got)
    assert limited[0].product_id not in {p.product_id for p in got}


def test_suitability_excludes_risky_funds_and_says_why(
    client: httpx.Client, users_by_profile: dict[int, list[str]], serve_home: ServeHome, auth: ServeAuth,  # noqa: F811
) -> None:
    careful = users_by_profile[1][0]  # 안정형: only 6등급 (매우낮은위험) funds
    r = client.get(f"/api/v1/recommendations/{careful}", params={"type": "fund", "k": 5}, headers=auth.headers(careful))
    body = r.json()
    assert all(i["risk_grade"] == 6 for i in body["items"])
    unsuitable = [e for e in body["excluded"] if e["kind"] == "unsuitable"]
    assert unsuitable, body
    assert all("투자성향(안정형)" in e["reason"] or "위험등급 정보가 없는" in e["reason"] for e in unsuitable)
    assert "투자성향에 맞지 않는 상품" in body["summary"]

    # 공격투자형 may take every grade; 적극투자형 everything but 1등급 (매우높은위험)
    profile = 5 if 5 in users_by_profile else 4
    bold = users_by_profile[profile][0]
    r = client.get(f"/api/v1/recommendations/{bold}", params={"type": "fund", "k": 5}, headers=auth.headers(bold))
    body = r.json()
    assert body["items"]
    left_out = [e for e in body["excluded"] if e["kind"] == "unsuitable"]
    if profile == 5:
        assert left_out == []
    else:
        assert all("1등급" in e["reason"] or "위험등급 정보가 없는" in e["reason"] for e in left_out)


def test_dislike_removes_a_product_on_the_next_call(client: httpx.Client, serve_home: ServeHome, auth: ServeAuth) -> None:  # noqa: F811
    user = serve_home.embedded_users[2]
    h = auth.headers(user)
    first = client.get(f"/api/v1/recommendations/{user}", params={"k": 3}, headers=h).json()
    top = first["items"][0]["product_id"]
    r = client.post("/api/v1/chat/feedback", json={"user_id": user, "target": "product", "target_id": top, "rating": "dislike"},
                    headers=h)
    assert r.status_code == 201 and r.json()["stored"] is True
    again = client.get(f"/api/v1/recommendations/{user}", params={"k": 3}, headers=h).json()
    assert top not in [i["product_id"] for i in again["items"]]
    disliked = [e for e in again["excluded"] if e["kind"] == "disliked"]
    assert [e["product_id"] for e in disliked] == [top] and "관심 없음" in disliked[0]["reason"]


def test_like_boosts_a_product(client: httpx.Client, serve_home: ServeHome, auth: ServeAuth) -> None:  # noqa: F811
    user = serve_home.embedded_users[3]
    h = auth.headers(user)
    before = client.get(f"/api/v1/recommendations/{user}", params={"k": 6}, headers=h).json()["items"]
    last = before[-1]
    r = client.post("/api/v1/chat/feedback", json={"user_id": user, "target": "product", "target_id": last["product_id"],
                                                  "rating": "like", "comment": "관심 있어요"}, headers=h)
    assert r.status_code == 201
    after = client.get(f"/api/v1/recommendations/{user}", params={"k": 6}, headers=h).json()["items"]
    ids = [i["product_id"] for i in after]
    assert last["product_id"] in ids and ids.index(last["product_id"]) < len(before) - 1
    boosted = next(i for i in after if i["product_id"] == last["product_id"])
    assert boosted["score"] >= last["score"] + 0.29  # LIKED_BOOST on the normalized score


def test_user_without_stored_vector_still_gets_recommendations(client: httpx.Client, serve_home: ServeHome, auth: ServeAuth) -> None:  # noqa: F811
    user = serve_home.unembedded_users[0]
    r = client.get(f"/api/v1/recommendations/{user}", params={"k": 3}, headers=auth.headers(user))
    assert r.status_code == 200 and r.json()["items"]


# ---------------------------------------------------------------------------------------------
# chat (SSE)
# ---------------------------------------------------------------------------------------------
def test_chat_stream_is_framed_sse_with_cited_products(client: httpx.Client, serve_home: ServeHome, auth: ServeAuth) -> None:  # noqa: F811
    rid = f"chat-{uuid.uuid4().hex[:8]}"
    user = serve_home.embedded_users[4]
    with client.stream("POST", "/api/v1/chat/stream", headers=auth.headers(user, **{"X-Request-ID": rid}),
                       json={"user_id": user, "question": QUESTION, "k": 3}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache" and r.headers["x-request-id"] == rid
        raw = "".join(r.iter_text())
    blocks = [b for b in raw.split("\n\n") if b.strip()]
    for i, block in enumerate(blocks, start=1):  # id, event, one data line each
        lines = block.split("\n")
        assert lines[0] == f"id: {i}" and lines[1].startswith("event: ") and lines[2].startswith("data: ")
        assert len(lines) == 3
    events = sse.parse(raw)
    names = [name for name, _ in events]
    assert names[0] == "meta" and names[-1] == "done" and names.count("delta") >= 3
    assert set(names[1:-1]) == {"delta"}
    meta, done = events[0][1], events[-1][1]
    assert meta["generator"] == "offline" and meta["request_id"] == rid and meta["candidates"] >= meta["recommended"]
    text = "".join(d["text"] for n, d in events if n == "delta")
    assert text == done["answer"]  # the streamed text is the verified answer, in order
    assert done["verified"] is True and done["generator"] == "offline"
    assert done["log_id"] == meta["log_id"] and re.fullmatch(LOG_ID_PATTERN, done["log_id"])
    assert 1 <= len(done["cited"]) <= 3
    for c in done["cited"]:
        assert f"「{c['name']}」" in done["answer"] and c["key_numbers"] and c["suitability_note"]
    assert any(c["product_type"] == "deposit" for c in done["cited"])


def test_chat_persona_override_and_filters(client: httpx.Client, serve_home: ServeHome, auth: ServeAuth) -> None:  # noqa: F811
    user = serve_home.embedded_users[5]
    _, events = _chat(client, auth.headers(user), user_id=user, question="적금 추천해 주세요", k=2,
                      product_types=["saving"], term_months=12,
                      persona="30대 직장인으로 2년 안에 결혼자금을 모으려고 합니다. 관심 키워드: 결혼자금.")
    done = events[-1][1]
    assert done["cited"] and all(c["product_type"] == "saving" for c in done["cited"])
    assert all(c["key_numbers"]["기간"] == "12개월" for c in done["cited"])


def test_chat_errors_before_the_stream_are_json(client: httpx.Client, auth: ServeAuth) -> None:  # noqa: F811
    admin = auth.admin_headers()  # may name any user_id: an unknown one reaches the 404
    r, _ = _chat(client, admin, user_id="U9999999", question="예금 추천")
    _error(r, 404, "not_found")
    r, _ = _chat(client, admin, user_id="U0000001", question="   ")
    assert "question" in _error(r, 422, "invalid_request")["detail"]
    r, _ = _chat(client, admin, user_id="u1", question="예금")
    assert "user_id" in _error(r, 422, "invalid_request")["detail"]
    r, _ = _chat(client, admin, user_id="U0000001", question="x" * 2001)
    _error(r, 422, "invalid_request")


# ---------------------------------------------------------------------------------------------
# feedback and vectorize
# ---------------------------------------------------------------------------------------------
def test_feedback_on_an_answer_and_bad_feedback(client: httpx.Client, serve_home: ServeHome, auth: ServeAuth) -> None:  # noqa: F811
    user = serve_home.embedded_users[6]
    h = auth.headers(user)
    _, events = _chat(client, h, user_id=user, question="연금저축 상품을 알려 주세요", k=2)
    log_id = events[-1][1]["log_id"]
    r = client.post("/api/v1/chat/feedback", json={"user_id": user, "target": "answer", "target_id": log_id,
                                                  "rating": "like"}, headers=h)
    assert r.status_code == 201 and r.json()["feedback_id"].startswith("fb_")
    store = open_store(serve_home.settings)
    assert [(f.target, f.target_id, f.rating) for f in store.feedback(user)] == [("answer", log_id, "like")]

    base = {"user_id": user, "target": "product", "rating": "like"}
    _error(client.post("/api/v1/chat/feedback", json={**base, "target_id": "deposit:none:none"}, headers=h), 404, "not_found")
    _error(client.post("/api/v1/chat/feedback", json={**base, "user_id": "U9999999",
                                                      "target_id": serve_home.sample[0].product_id},
                       headers=auth.admin_headers()), 404, "not_found")
    body = _error(client.post("/api/v1/chat/feedback", json={**base, "target": "answer", "target_id": "123"}, headers=h),
                  422, "invalid_request")
    assert "log_id" in body["detail"]
    _error(client.post("/api/v1/chat/feedback", json={**base, "target_id": "x", "rating": "meh"}, headers=h),
           422, "invalid_request")


def test_vectorize_builds_the_stored_vector(client: httpx.Client, serve_home: ServeHome, auth: ServeAuth) -> None:  # noqa: F811
    user = serve_home.unembedded_users[1]
    store = open_store(serve_home.settings)
    assert store.get_user_vector(user) is None
    r = client.post(f"/api/v1/users/{user}/vectorize", headers=auth.headers(user))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changed"] is True and body["dim"] == 384 and body["embedder"].startswith("e5:")
    assert "투자성향" in body["persona"]
    stored = store.get_user_vector(user)
    assert stored is not None and stored.persona == body["persona"] and len(stored.vector) == 384
    again = client.post(f"/api/v1/users/{user}/vectorize", headers=auth.headers(user)).json()
    assert again["changed"] is False
    _error(client.post("/api/v1/users/U9999999/vectorize", headers=auth.admin_headers()), 404, "not_found")
    _error(client.post("/api/v1/users/X1/vectorize", headers=auth.headers(user)), 422, "invalid_request")


# ---------------------------------------------------------------------------------------------
# admin
# ---------------------------------------------------------------------------------------------
def test_admin_stats_and_logs(client: httpx.Client, serve_home: ServeHome, auth: ServeAuth) -> None:  # noqa: F811
    user = serve_home.embedded_users[7]
    h = auth.headers(user)
    client.get(f"/api/v1/recommendations/{user}", params={"k": 2}, headers=h)
    _, events = _chat(client, h, user_id=user, question=QUESTION, k=2)
    client.get(f"/api/v1/recommendations/{user}", params={"k": 3}, headers=h)
    top = events[-1][1]["cited"][0]["product_id"]
    client.post("/api/v1/chat/feedback", json={"user_id": user, "target": "product", "target_id": top, "rating": "like"},
                headers=h)

    page = _wait_for_logs(client, auth, user, 3)
    admin = auth.admin_headers()
    assert page["total"] == 3 and [i["kind"] for i in page["items"]] == ["recommendation", "chat", "recommendation"]
    chat_log = page["items"][1]
    assert chat_log["question"] == QUESTION and chat_log["answer"] == events[-1][1]["answer"]
    assert chat_log["product_ids"] == [c["product_id"] for c in events[-1][1]["cited"]]
    assert chat_log["generator"] == "offline" and chat_log["latency_ms"] > 0
    assert {i["user_id"] for i in page["items"]} == {user}

    # pagination over everyone's logs: pages are disjoint, newest first, total stable
    p1 = client.get("/api/v1/admin/logs", params={"limit": 2, "offset": 0}, headers=admin).json()
    p2 = client.get("/api/v1/admin/logs", params={"limit": 2, "offset": 2}, headers=admin).json()
    assert p1["total"] == p2["total"] >= 4 and len(p1["items"]) == 2
    assert not {i["log_id"] for i in p1["items"]} & {i["log_id"] for i in p2["items"]}
    stamps = [i["created_at"] for i in p1["items"] + p2["items"]]
    assert stamps == sorted(stamps, reverse=True)

    today = datetime.now(UTC).date()
    tomorrow, yesterday = today + timedelta(days=1), today - timedelta(days=1)
    assert client.get("/api/v1/admin/logs", params={"start": str(tomorrow)}, headers=admin).json()["total"] == 0
    assert client.get("/api/v1/admin/logs", params={"end": str(yesterday)}, headers=admin).json()["total"] == 0
    in_range = client.get(f"/api/v1/admin/logs/{user}", params={"start": str(today), "end": str(today)}, headers=admin).json()
    assert in_range["total"] == 3

    overview = client.get("/api/v1/admin/stats/overview", headers=admin).json()
    assert overview["conversations"] >= 1 and overview["recommendations"] >= 2
    assert overview["api_requests"] == overview["conversations"] + overview["recommendations"] + overview["forecasts"]
    assert overview["likes"] >= 1 and overview["avg_latency_ms"] > 0 and overview["fallback_rate"] == 0.0
    empty = client.get("/api/v1/admin/stats/overview", params={"start": str(tomorrow)}, headers=admin).json()
    assert empty["api_requests"] == 0 and empty["feedback_total"] == 0

    trends = client.get("/api/v1/admin/stats/trends", params={"start": str(yesterday), "end": str(tomorrow)}, headers=admin).json()
    assert [d["day"] for d in trends["days"]] == [str(yesterday), str(today), str(tomorrow)]
    # every log of this session lies in [yesterday, tomorrow], even across midnight
    assert sum(d["api_requests"] for d in trends["days"]) == overview["api_requests"]
    assert sum(d["conversations"] for d in trends["days"]) == overview["conversations"]
    assert len(client.get("/api/v1/admin/stats/trends", headers=admin).json()["days"]) == 30  # default window

    fb = client.get("/api/v1/admin/stats/feedback", headers=admin).json()
    assert fb["total"] == overview["feedback_total"] and fb["by_rating"]["like"] >= 1
    assert [top, 1] in fb["top_liked_products"] or any(t[0] == top for t in fb["top_liked_products"])

    usage = client.get("/api/v1/admin/users", params={"limit": 100}, headers=admin).json()
    mine = next(u for u in usage["items"] if u["user_id"] == user)
    assert mine == {**mine, "conversations": 1, "api_requests": 3, "feedback": 1}
    assert usage["total"] >= 1 and client.get("/api/v1/admin/users", params={"limit": 1}, headers=admin).json()["limit"] == 1

    _error(client.get("/api/v1/admin/logs", params={"start": str(today), "end": str(yesterday)}, headers=admin), 422, "invalid_request")
    _error(client.get("/api/v1/admin/stats/trends", params={"start": "2020-01-01", "end": "2026-01-01"}, headers=admin),
           422, "invalid_request")
    _error(client.get("/api/v1/admin/logs", params={"limit": 0}, headers=admin), 422, "invalid_request")
    _error(client.get("/api/v1/admin/logs", params={"start": "yesterday"}, headers=admin), 422, "invalid_request")
    _error(client.get("/api/v1/admin/logs/U9999999", headers=admin), 404, "not_found")


def test_custom_metrics_reach_prometheus(client: httpx.Client, searcher: dict[str, str]) -> None:
    """The replicas' custom metrics are exported by the node's metrics agent (Prometheus format)."""
    import ray

    client.get("/api/v1/products/search", params={"q": "적금"}, headers=searcher)
    port = ray._private.worker.global_worker.node.metrics_export_port  # noqa: SLF001 - no public accessor
    # Each process exports on its own schedule: wait for every name asserted below, not just two.
    wanted = ("finray_http_requests", "finray_http_request_latency_ms_bucket", "finray_cache_lookups",
              "finray_recommended_products")
    deadline = time.monotonic() + 60
    text = ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        except httpx.HTTPError:
            text = ""
        if all(name in text for name in wanted):
            break
        time.sleep(2)
    assert "finray_http_requests" in text, "custom request counter not exported"
    assert 'endpoint="/api/v1/products/search"' in text
    assert "finray_http_request_latency_ms_bucket" in text
    assert "finray_cache_lookups" in text and "finray_recommended_products" in text


def test_product_types_cover_the_sample(serve_home: ServeHome) -> None:  # noqa: F811
    """Guard for the fixture itself: every type and both ends of the fund risk scale are searchable."""
    types = {p.product_type for p in serve_home.sample}
    assert types == {ProductType.DEPOSIT, ProductType.SAVING, ProductType.ANNUITY, ProductType.FUND,
                     ProductType.CREDIT_LOAN}
    grades = {p.risk_grade for p in serve_home.sample if p.product_type is ProductType.FUND}
    assert {6, 2} <= grades and 100 <= len(serve_home.sample) <= 150


# ---------------------------------------------------------------------------------------------
# accounts and security, end to end through Serve
# ---------------------------------------------------------------------------------------------
#: One route of every protected router (method, path, JSON body); ``{u}`` is a user id.
PROTECTED = [
    ("GET", "/api/v1/products/search?q=예금", None),
    ("GET", "/api/v1/recommendations/{u}", None),
    ("POST", "/api/v1/chat/stream", {"user_id": "{u}", "question": "예금 추천"}),
    ("POST", "/api/v1/chat/feedback", {"user_id": "{u}", "target": "product", "target_id": "x", "rating": "like"}),
    ("POST", "/api/v1/users/{u}/vectorize", None),
    ("GET", "/api/v1/admin/stats/overview", None),
    ("GET", "/api/v1/admin/logs/{u}", None),
    ("POST", "/api/v1/forecast", {"indicators": ["cpi"], "months": 3}),
    ("POST", "/api/v1/forecast/stream", {"indicators": ["cpi"], "months": 3, "question": "물가 전망"}),
]


def _call(client: httpx.Client, method: str, path: str, body: Any, user: str, headers: dict[str, str]) -> httpx.Response:
    json_body = None
    if body is not None:
        json_body = {k: (v.format(u=user) if isinstance(v, str) else v) for k, v in body.items()}
    return client.request(method, path.format(u=user), json=json_body, headers=headers)


def test_public_routes_need_no_token(client: httpx.Client) -> None:
    assert client.get("/").status_code == 200
    assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200
    page = client.get("/app/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    users = client.get("/api/v1/auth/dev-users", params={"limit": 3})  # AUTH_DEV_LOGIN=true in this session
    assert users.status_code == 200 and len(users.json()) == 3
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["BearerAuth"]["scheme"].lower() == "bearer"


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=[f"{m} {p.split('?')[0]}" for m, p, _ in PROTECTED])
def test_no_or_bad_token_is_401_with_a_challenge(
    client: httpx.Client, auth: ServeAuth, serve_home: ServeHome, method: str, path: str, body: Any,  # noqa: F811
) -> None:
    user = serve_home.embedded_users[11]
    r = _call(client, method, path, body, user, {})
    body_ = _error(r, 401, "unauthorized")
    assert body_["reason"] == "missing_token" and "Authorization" in body_["detail"]
    assert r.headers["www-authenticate"] == 'Bearer realm="finray"'  # RFC 6750: no error= without credentials

    r = _call(client, method, path, body, user, {"Authorization": "Bearer not-a-jwt"})
    assert _error(r, 401, "unauthorized")["reason"] == "invalid_token"
    assert 'error="invalid_token"' in r.headers["www-authenticate"]

    header, payload, signature = auth.token(user).split(".")
    forged = f"{header}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"
    r = _call(client, method, path, body, user, {"Authorization": f"Bearer {forged}"})
    assert "signature" in _error(r, 401, "unauthorized")["detail"]

    r = _call(client, method, path, body, user, {"Authorization": "Basic dXNlcjpwdw=="})
    assert _error(r, 401, "unauthorized")["reason"] == "invalid_request"


def test_another_customers_user_id_is_403(client: httpx.Client, auth: ServeAuth, serve_home: ServeHome) -> None:  # noqa: F811
    me, other = serve_home.embedded_users[12], serve_home.embedded_users[13]
    mine = auth.headers(me)
    refusals = [
        client.get(f"/api/v1/recommendations/{other}", headers=mine),
        client.post(f"/api/v1/users/{other}/vectorize", headers=mine),
        client.post("/api/v1/chat/stream", json={"user_id": other, "question": "예금 추천"}, headers=mine),
        client.post("/api/v1/chat/feedback", headers=mine, json={
            "user_id": other, "target": "product", "target_id": serve_home.sample[0].product_id, "rating": "dislike"}),
        client.post("/api/v1/forecast/stream", json={"indicators": ["cpi"], "months": 3, "user_id": other}, headers=mine),
    ]
    for r in refusals:
        body = _error(r, 403, "forbidden")
        assert body["reason"] == "not_own_user_id" and other in body["detail"] and me in body["detail"]
    assert open_store(serve_home.settings).feedback(other) == []  # nothing was stored for the other customer
    # the same calls for oneself pass the check
    assert client.get(f"/api/v1/recommendations/{me}", params={"k": 1}, headers=mine).status_code == 200


def test_admin_routes_need_the_admin_role(client: httpx.Client, auth: ServeAuth, serve_home: ServeHome) -> None:  # noqa: F811
    customer = auth.headers(serve_home.embedded_users[12])
    for path in ("/api/v1/admin/stats/overview", "/api/v1/admin/users", f"/api/v1/admin/logs/{serve_home.embedded_users[12]}"):
        body = _error(client.get(path, headers=customer), 403, "forbidden")
        assert body["reason"] == "admin_required" and "AUTH_ADMIN_USER_IDS" in body["detail"]
        assert client.get(path, headers=auth.admin_headers()).status_code == 200
    me = client.get("/api/v1/auth/me", headers=auth.admin_headers()).json()
    assert me["user_id"] == auth.admin and "admin" in me["roles"]
    # admins may act for a customer (support), e.g. read their recommendations
    other = serve_home.embedded_users[13]
    r = client.get(f"/api/v1/recommendations/{other}", params={"k": 1}, headers=auth.admin_headers())
    assert r.status_code == 200 and r.json()["user_id"] == other


def test_per_user_rate_limit_is_429_with_retry_after(edge_url: str, auth: ServeAuth, serve_home: ServeHome) -> None:  # noqa: F811
    """On the edge application (its own tiny per-user bucket): the burst passes, then 429."""
    user, neighbour = serve_home.embedded_users[14], serve_home.embedded_users[15]
    with httpx.Client(base_url=edge_url, timeout=60) as edge:
        params = {"q": "정기예금", "mode": "keyword", "k": 1}
        for _ in range(EDGE_USER_BURST):
            assert edge.get("/api/v1/products/search", params=params, headers=auth.headers(user)).status_code == 200
        r = edge.get("/api/v1/products/search", params=params, headers=auth.headers(user))
        body = _error(r, 429, "rate_limited")
        assert body["reason"] == "user_rate_limit"
        assert int(r.headers["retry-after"]) >= 1
        # buckets are per user: another customer is not affected
        assert edge.get("/api/v1/products/search", params=params, headers=auth.headers(neighbour)).status_code == 200


def test_forecasts_without_a_published_model_are_503_and_the_app_still_serves(
    edge_url: str, auth: ServeAuth, serve_home: ServeHome,  # noqa: F811
) -> None:
    """The edge application's Forecaster finds no published model: it starts anyway."""
    with httpx.Client(base_url=edge_url, timeout=60) as edge:
        assert edge.get("/").json()["status"] == "ok"
        r = edge.post("/api/v1/forecast", json={"indicators": ["cpi"], "months": 3},
                      headers=auth.headers(serve_home.embedded_users[16]))
        body = _error(r, 503, "service_unavailable")
        assert "train_forecaster" in body["detail"]
        r = edge.post("/api/v1/forecast/stream", json={"indicators": ["cpi"], "months": 3, "question": "물가"},
                      headers=auth.headers(serve_home.embedded_users[17]))
        assert "train_forecaster" in _error(r, 503, "service_unavailable")["detail"]


def test_oversized_body_is_413(client: httpx.Client, auth: ServeAuth, serve_home: ServeHome) -> None:  # noqa: F811
    user = serve_home.embedded_users[11]
    big = json.dumps({"user_id": user, "question": "가" * 40_000}).encode()  # ≈ 120 kB > 64 KiB
    h = auth.headers(user, **{"content-type": "application/json"})
    body = _error(client.post("/api/v1/chat/stream", content=big, headers=h), 413, "payload_too_large")
    assert "MAX_REQUEST_BODY_BYTES" in body["detail"]

    def chunks() -> Any:  # no Content-Length: counted while it streams in
        for i in range(0, len(big), 16_384):
            yield big[i : i + 16_384]

    r = client.post("/api/v1/chat/stream", content=chunks(), headers=h)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_refresh_rotates_and_reuse_or_logout_ends_the_session(
    client: httpx.Client, auth: ServeAuth, serve_home: ServeHome,  # noqa: F811
) -> None:
    user = serve_home.embedded_users[18]
    search = ("/api/v1/products/search", {"q": "적금", "mode": "keyword", "k": 1})
    first = auth.login(user)
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    second = r.json()
    assert second["user_id"] == user and second["refresh_token"] != first["refresh_token"]
    assert client.get(search[0], params=search[1], headers={"Authorization": f"Bearer {second['access_token']}"}).status_code == 200

    # the first refresh token again: reuse → the whole session family is revoked
    body = _error(client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401, "unauthorized")
    assert body["reason"] == "refresh_token_reused"
    r = client.get(search[0], params=search[1], headers={"Authorization": f"Bearer {second['access_token']}"})
    assert _error(r, 401, "unauthorized")["reason"] == "token_revoked"
    assert _error(client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}),
                  401, "unauthorized")["reason"] == "token_revoked"

    # logout: this session's tokens stop working at once, on every replica (shared auth store)
    third = auth.login(user)
    bearer = {"Authorization": f"Bearer {third['access_token']}"}
    assert client.get(search[0], params=search[1], headers=bearer).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    assert _error(client.get(search[0], params=search[1], headers=bearer), 401, "unauthorized")["reason"] == "token_revoked"
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]}).status_code == 401
    # other sessions of the same customer are untouched
    assert client.get(search[0], params=search[1], headers=auth.headers(user)).status_code == 200


def test_pii_in_questions_and_comments_is_masked_in_what_is_stored(
    client: httpx.Client, auth: ServeAuth, serve_home: ServeHome,  # noqa: F811
) -> None:
    user = serve_home.embedded_users[19]
    h = auth.headers(user)
    question = "제 연락처는 010-1234-5678, 메일은 hong.gildong@example.com 입니다. 12개월 정기예금 추천해 주세요"
    r, events = _chat(client, h, user_id=user, question=question, k=2)
    assert r.status_code == 200 and events[-1][0] == "done"
    log_id = events[-1][1]["log_id"]
    r = client.post("/api/v1/chat/feedback", headers=h, json={
        "user_id": user, "target": "answer", "target_id": log_id, "rating": "like",
        "comment": "상담 고마워요. 주민번호 900101-1234567 로 가입할게요"})
    assert r.status_code == 201

    page = _wait_for_logs(client, auth, user, 1)
    [stored] = [i for i in page["items"] if i["log_id"] == log_id]
    assert "010-1234-5678" not in stored["question"] and "hong.gildong@example.com" not in stored["question"]
    assert "[전화번호]" in stored["question"] and "[이메일]" in stored["question"]
    assert "12개월 정기예금 추천해 주세요" in stored["question"]  # the rest of the question is kept
    [fb] = open_store(serve_home.settings).feedback(user)
    assert fb.comment is not None and "900101-1234567" not in fb.comment and "[주민등록번호]" in fb.comment


# ---------------------------------------------------------------------------------------------
# RiskXpert through the same ingress
# ---------------------------------------------------------------------------------------------
def test_forecast_json_with_median_and_bands(client: httpx.Client, auth: ServeAuth, serve_home: ServeHome) -> None:  # noqa: F811
    r = client.post("/api/v1/forecast", json={"indicators": ["usd_krw", "base_rate"], "months": 6},
                    headers=auth.headers(serve_home.embedded_users[20]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["months"] == 6 and body["version"]
    assert [i["indicator"] for i in body["indicators"]] == ["base_rate", "usd_krw"]  # catalogue order
    for ind in body["indicators"]:
        assert ind["model"] in ("naive", "drift") and ind["skill"]["model"] == ind["model"] and ind["history"]
        assert len(ind["forecast"]) == 6
        for point in ind["forecast"]:
            assert point["p10"] <= point["median"] <= point["p90"]
    r = client.post("/api/v1/forecast", json={"indicators": ["cpi"], "months": 25},
                    headers=auth.headers(serve_home.embedded_users[20]))
    assert "months" in _error(r, 422, "invalid_request")["detail"]


def test_forecast_stream_is_stored_under_the_caller_with_pii_masked(
    client: httpx.Client, auth: ServeAuth, serve_home: ServeHome,  # noqa: F811
) -> None:
    user = serve_home.embedded_users[21]
    question = f"환율이 오르면 어떡하죠? 답변은 010-9876-5432 로 주세요 ({uuid.uuid4().hex[:6]})"
    r = client.post("/api/v1/forecast/stream", headers=auth.headers(user),
                    json={"indicators": ["usd_krw"], "months": 3, "question": question})  # no user_id: the caller's
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse.parse(r.text)
    names = [n for n, _ in events]
    assert names[0] == "forecast" and names[-1] == "done" and "summary" in names and "scenario" in names
    done = events[-1][1]
    page = _wait_for_logs(client, auth, user, 1)
    [stored] = [i for i in page["items"] if i["log_id"] == done["log_id"]]
    assert stored["kind"] == "forecast" and stored["user_id"] == user
    assert "010-9876-5432" not in stored["question"] and "[전화번호]" in stored["question"]
