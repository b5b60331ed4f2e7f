"""Slack alert when a finray task fails for good (``on_failure_callback``; not on retries).

Posts to a Slack incoming webhook with the standard library only, so Airflow needs no extra
provider. The webhook URL comes from ``SLACK_WEBHOOK_URL`` (the same variable finray itself
uses) or, failing that, from the Airflow connection ``FINRAY_SLACK_CONN_ID`` (default
``finray_slack``; the URL in its password, or its host). The URL is a credential: it is never
logged. A callback must never fail the task a second time, so every error is logged and
swallowed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

log = logging.getLogger(__name__)
TIMEOUT_S = 10
MAX_ERROR_CHARS = 1500
_CREDENTIALS = re.compile(r"(://[^/\s:@]+:)[^/\s@]+@|(token|key|secret|password)=[^&\s]+", re.I)


def webhook_url(conn_id: str) -> str | None:
    url = os.environ.get("SLACK_WEBHOOK_URL")
    if url:
        return url
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - no connection configured is a normal state
        return None
    candidate = conn.password or conn.host or ""
    return candidate if candidate.startswith("https://") or candidate.startswith("http://") else None


def _scrub(text: str) -> str:
    return _CREDENTIALS.sub(lambda m: (m.group(1) + "***@") if m.group(1) else f"{m.group(2)}=***", text)


def failure_message(context: dict[str, Any]) -> dict[str, Any]:
    """The Slack payload for a failed task: where, which try, and why (KubeRay's reason)."""
    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    why = _scrub(str(exc).strip() or type(exc).__name__) if exc else "no exception recorded"
    if len(why) > MAX_ERROR_CHARS:
        why = why[:MAX_ERROR_CHARS] + " …"
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", "?")
    tries = getattr(ti, "try_number", "?")
    log_url = getattr(ti, "log_url", None)
    text = f":red_circle: finray Airflow: `{dag_id}.{task_id}` failed (try {tries}, run `{run_id}`)\n```{why}```"
    if log_url:
        text += f"\n<{log_url}|task log>"
    return {"text": text}


def post(url: str, payload: dict[str, Any]) -> bool:
    req = urllib.request.Request(url, data=json.dumps(payload, ensure_ascii=False).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    host = urllib.parse.urlsplit(url).hostname
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            body = resp.read().decode("utf-8", "replace")
        if body.strip() != "ok":
            log.warning("Slack webhook at %s answered %r", host, body[:100])
        return True
    except urllib.error.HTTPError as exc:
        log.warning("Slack webhook at %s refused the alert: %s %s", host, exc.code,
                    exc.read().decode("utf-8", "replace")[:100])
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        log.warning("Slack webhook at %s unreachable: %s", host, getattr(exc, "reason", exc))
    return False


def notify_slack_on_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback``: post the failure to Slack if a webhook is configured."""
    try:
        from finray_airflow.settings import load

        url = webhook_url(load().slack_conn_id)
        if not url:
            log.info("no Slack webhook configured (SLACK_WEBHOOK_URL); failure not posted")
            return
        post(url, failure_message(context))
    except Exception:  # noqa: BLE001 - a callback must not fail the task again
        log.exception("could not post the failure to Slack")
