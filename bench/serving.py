"""Serve for the benchmarks: the whole application on a free loopback port, answering before use.

Shared by ``bench/serve_latency.py`` and ``bench/advice_quality.py``; each starts its own local Ray
first (they size it differently) and then calls :func:`run_app`.
"""

from __future__ import annotations

import socket
import time

#: Settings of the Serve a benchmark starts: dev login for its clients, limits the load never reaches.
BENCH_SERVE_ENV = {
    "AUTH_DEV_LOGIN": "true",
    "RATE_LIMIT_IP_PER_MIN": "100000",
    "RATE_LIMIT_IP_BURST": "100000",
    "RATE_LIMIT_USER_PER_MIN": "100000",
    "RATE_LIMIT_USER_BURST": "10000",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_app(home: str, name: str, ready_timeout_s: float = 120.0) -> str:
    """Deploy the application for ``home`` under ``name`` at ``/`` and return its URL once ``GET /``
    answers 200 (Ray must already be running in this process)."""
    import httpx
    from ray import serve

    from serve_apps.app import build_app

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port}, logging_config={"enable_access_log": False})
    serve.run(build_app({"FINRAY_HOME": home, **BENCH_SERVE_ENV}), name=name, route_prefix="/")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/", timeout=10).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("Serve did not answer GET /")
