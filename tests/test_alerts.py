"""Slack alerts against a loopback incoming-webhook receiver."""

from __future__ import annotations

import json
import os
import threading

import pytest

from finray.alerts import SlackAlerter, fingerprint, notify_job_failure
from tests.fakes.slack import HOOK_PATH, FakeSlack
from tests.security_support import FakeClock, cleanup_redis, redis_url, unique_prefix


@pytest.fixture(scope="module")
def slack_server():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def slack(slack_server):
    slack_server.messages.clear()
    slack_server.rate_limit_next = 0
    slack_server.fail_with = None
    return slack_server


def boom(message: str) -> Exception:
    try:
        raise RuntimeError(message)
    except RuntimeError as err:
        return err


def test_alert_is_posted_as_text_and_blocks(slack):
    alerter = SlackAlerter(slack.webhook_url, environment="prod")
    assert alerter.alert("unhandled API exception", error=boom("db down"), context={"route": "GET /api/v1/x"})
    assert alerter.flush(5)
    (msg,) = slack.messages
    assert msg["blocks"][0]["type"] == "section" and msg["blocks"][0]["text"]["type"] == "mrkdwn"
    text = msg["text"]
    assert "[finray prod] unhandled API exception" in text
    assert "RuntimeError: db down" in text and "GET /api/v1/x" in text
    assert "test_alerts.py" in text and " in boom" in text  # frames: file:line in function
    alerter.close()


def test_same_fingerprint_is_deduplicated_within_the_window(slack):
    clock = FakeClock()
    alerter = SlackAlerter(slack.webhook_url, dedupe_window_s=600, clock=clock)
    err = boom("x")
    assert alerter.alert("job failed", error=err)
    assert not alerter.alert("job failed", error=err)
    assert not alerter.alert("job failed", error=boom("other message, same place"))
    assert alerter.alert("another problem")  # a different fingerprint goes out
    clock.advance(601)
    assert alerter.alert("job failed", error=err)
    alerter.flush(5)
    assert len(slack.messages) == 3
    assert "2 identical alert(s) suppressed" in slack.messages[-1]["text"]
    assert alerter.stats.suppressed == 2
    alerter.close()


def test_fingerprint_ignores_the_message_but_not_the_place():
    a, b = boom("user 1"), boom("user 2")
    assert fingerprint("t", a) == fingerprint("t", b)
    try:
        raise RuntimeError("elsewhere")
    except RuntimeError as c:
        assert fingerprint("t", c) != fingerprint("t", a)
    assert fingerprint("t1") != fingerprint("t2")


def test_rate_limit_caps_posts_per_minute(slack):
    clock = FakeClock()
    alerter = SlackAlerter(slack.webhook_url, max_per_min=2, clock=clock)
    results = [alerter.alert(f"problem {i}") for i in range(5)]
    assert results == [True, True, False, False, False]
    assert alerter.stats.rate_limited == 3
    clock.advance(30)  # one token refilled
    assert alerter.alert("problem 2")  # a rate-limited alert did not block its fingerprint
    alerter.flush(5)
    assert len(slack.messages) == 3
    alerter.close()


def test_no_tokens_keys_or_pii_reach_slack(slack):
    jwt_secret = "Zq8rTv0pQm-signing-key-0123456789abcdef"
    alerter = SlackAlerter(slack.webhook_url, extra_secrets=[jwt_secret])
    err = boom(
        "request failed for 010-1234-5678 hong@example.com 900101-1234567 card 4111-1111-1111-1111 "
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJVMDAwMDAwMSJ9.c2ln "
        f"key={jwt_secret} refresh frt_{'B' * 43} url {slack.webhook_url}"
    )
    alerter.alert(
        "unhandled API exception", detail=f"계좌 110-123-456789 signing key {jwt_secret}", error=err,
        context={"route": "POST /api/v1/chat?token=abc123secret", "email": "kim@naver.com"},
    )
    alerter.flush(5)
    raw = json.dumps(slack.messages, ensure_ascii=False)
    for leaked in ("1234-5678", "hong@example.com", "900101", "4111-1111", "eyJzdWIi", jwt_secret,
                   "BBBBBBBB", HOOK_PATH, "abc123secret", "kim@naver.com", "456789"):
        assert leaked not in raw, leaked
    assert "[전화번호]" in raw and "[이메일]" in raw and "[REDACTED]" in raw
    alerter.close()


def test_alert_does_not_block_the_caller(slack):
    """The post happens on the worker thread: alert() returns while Slack is still answering."""
    release = threading.Event()
    original = slack.server._server.RequestHandlerClass._dispatch

    def slow(self):
        release.wait(10)
        original(self)

    slack.server._server.RequestHandlerClass.do_POST = slow
    try:
        alerter = SlackAlerter(slack.webhook_url)
        assert alerter.alert("slow slack")
        assert slack.messages == [] and alerter.stats.sent == 0  # returned before the post finished
        release.set()
        assert alerter.flush(5)
        assert alerter.stats.sent == 1 and len(slack.messages) == 1
        alerter.close()
    finally:
        slack.server._server.RequestHandlerClass.do_POST = original


def test_slack_429_is_honoured_once(slack):
    slack.rate_limit_next = 1
    slack.retry_after_s = 0
    alerter = SlackAlerter(slack.webhook_url)
    alerter.alert("retry me")
    alerter.flush(5)
    assert len(slack.messages) == 1 and alerter.stats.sent == 1
    alerter.close()


def test_failures_are_logged_not_raised(slack, caplog):
    slack.fail_with = 500
    alerter = SlackAlerter(slack.webhook_url)
    with caplog.at_level("WARNING", logger="finray.alerts"):
        assert alerter.alert("server error")
        alerter.flush(5)
    assert alerter.stats.failed == 1 and "HTTP 500" in caplog.text
    assert HOOK_PATH not in caplog.text  # the webhook URL is a credential: only its host is logged
    dead = SlackAlerter("http://127.0.0.1:1/services/x")
    with caplog.at_level("WARNING", logger="finray.alerts"):
        assert dead.alert("unreachable")
        dead.flush(5)
    assert dead.stats.failed == 1
    wrong = SlackAlerter(slack.server.url + "/services/T0/B0/wrong")
    wrong.alert("wrong hook")
    wrong.flush(5)
    assert wrong.stats.failed == 1
    for a in (alerter, dead, wrong):
        a.close()


def test_disabled_without_a_webhook():
    alerter = SlackAlerter(None)
    assert not alerter.enabled and alerter.alert("nothing") is False


def test_full_queue_drops_instead_of_blocking(slack):
    release = threading.Event()
    original = slack.server._server.RequestHandlerClass._dispatch

    def stuck(self):
        release.wait(10)
        original(self)

    slack.server._server.RequestHandlerClass.do_POST = stuck
    try:
        alerter = SlackAlerter(slack.webhook_url, queue_size=2, max_per_min=100)
        results = [alerter.alert(f"p{i}") for i in range(6)]
        # one in flight on the worker, two queued, the rest dropped (nothing waited)
        assert results.count(True) >= 2 and alerter.stats.dropped >= 3
        release.set()
        alerter.flush(5)
        alerter.close()
    finally:
        slack.server._server.RequestHandlerClass.do_POST = original


def test_redis_dedupe_is_shared_between_processes(slack):
    url = redis_url()
    prefix = unique_prefix("alert")
    fp = prefix  # unique fingerprint key for this test run
    a = SlackAlerter(slack.webhook_url, redis_url=url)
    b = SlackAlerter(slack.webhook_url, redis_url=url)
    try:
        assert a.alert("shared", fingerprint_key=fp)
        assert not b.alert("shared", fingerprint_key=fp)  # another replica/job: suppressed
        a.flush(5)
        assert len(slack.messages) == 1
    finally:
        import hashlib

        import redis

        r = redis.Redis.from_url(url)
        r.delete(f"finray:alert:{hashlib.sha256(fp.encode()).hexdigest()[:20]}")
        r.close()
        cleanup_redis(url, prefix)
        a.close()
        b.close()


def test_failed_data_job_alerts_through_the_cli(slack, tmp_path, monkeypatch):
    from data_jobs.cli import main

    monkeypatch.setenv("FINRAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.webhook_url)
    monkeypatch.setenv("ALERT_DEDUPE_S", "0")
    assert main(["seed_users", "--users", "5"]) == 1  # 5 < the 10-user minimum: the job fails
    (msg,) = slack.messages
    assert "data job seed_users failed" in msg["text"] and "ValueError" in msg["text"]


def test_notify_job_failure_is_a_no_op_without_a_webhook(monkeypatch, tmp_path):
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("FINRAY_HOME", str(tmp_path))
    assert notify_job_failure("collect_products", "boom") is False
    monkeypatch.setenv("FINRAY_STORE", "mongo")  # a broken configuration must not raise either
    assert notify_job_failure("collect_products", "boom") is False
    assert os.environ.get("FINRAY_STORE") == "mongo"
