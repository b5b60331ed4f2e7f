"""The RiskXpert router + Forecaster deployment through real Ray Serve and real HTTP.

A tiny test-only ingress (below) mounts ``serve_apps.routes.forecast.router`` under ``/api/v1``
and hands it the Forecaster's DeploymentHandle the way the real ingress does
(``app.state.services``). Ray starts once per session (``ray_session``); Serve is started on a
free 127.0.0.1 port unless another fixture already runs it, in which case only this module's
applications are added and removed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ray import serve

from finray.forecasting import TrainConfig, train_indicator
from finray.forecasting.artifacts import publish_version
from finray.indicators.series import load_bundled, usable_history
from finray.auth import Principal
from serve_apps import sse
from serve_apps.forecaster import Forecaster
from serve_apps.routes.forecast import router
from serve_apps.security import require_user
from tests.serve_fixtures import serve_base  # noqa: F401 - pytest fixture

pytestmark = pytest.mark.ray
CFG = TrainConfig(models=("naive", "drift"), n_origins=12, n_calibration=12)
KEYS = ("base_rate", "usd_krw", "cpi")


# --- the test-only ingress ---------------------------------------------------------------------
CALLER = "U0000007"


def forecast_test_app() -> FastAPI:
    """The router alone; the caller is a signed-in customer (tokens are tested with the real
    ingress in tests/test_serve_app.py, this module tests the forecast path)."""
    app = FastAPI()
    app.dependency_overrides[require_user] = lambda: Principal(
        user_id=CALLER, session_id="test", token_id="test", expires_at=2**31)
    app.include_router(router, prefix="/api/v1")
    return app


@serve.deployment(ray_actor_options={"num_cpus": 0})
@serve.ingress()
class ForecastTestIngress:
    def __init__(self, forecaster: Any) -> None:
        self._services = SimpleNamespace(forecaster=forecaster)

    def __serve_build_asgi_app__(self) -> FastAPI:
        app = forecast_test_app()
        app.state.services = self._services
        return app


def forecast_app(home: Path, name: str) -> Any:
    env = {"FINRAY_HOME": str(home), "FINRAY_CACHE_TTL_S": "600"}
    forecaster = Forecaster.options(
        name=f"Forecaster-{name}", num_replicas=1, autoscaling_config=None,
        ray_actor_options={"num_cpus": 0, "runtime_env": {"env_vars": env}},
    ).bind()
    return ForecastTestIngress.options(name=f"Ingress-{name}").bind(forecaster)


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    trained = [train_indicator(k, usable_history(load_bundled(k)), CFG) for k in KEYS]
    ready = tmp_path_factory.mktemp("fx") / "home"
    publish_version(ready / "models", trained, created_at=datetime(2026, 11, 1, tzinfo=UTC))
    empty = tmp_path_factory.mktemp("fx-empty") / "home"
    empty.mkdir(parents=True)
    return {"ready": ready, "empty": empty, "trained": trained}  # type: ignore[dict-item]


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the proxy may lag the application being ready
        try:
            if httpx.post(url, json={"indicators": ["cpi"], "months": 1}, timeout=10).status_code in (200, 422, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)


@pytest.fixture(scope="module")
def fx_url(serve_base: str, homes: dict[str, Path]) -> Iterator[str]:
    serve.run(forecast_app(homes["ready"], "fx"), name="fx-test", route_prefix="/fx-test")
    url = f"{serve_base}/fx-test/api/v1"
    _wait_ready(url + "/forecast")
    try:
        yield url
    finally:
        serve.delete("fx-test")


# --- JSON ------------------------------------------------------------------------------------------
def test_forecast_json(fx_url: str) -> None:
    r = httpx.post(f"{fx_url}/forecast", json={"indicators": ["usd_krw", "base_rate"], "months": 24,
                                              "history_months": 3}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["indicator"] for i in body["indicators"]] == ["base_rate", "usd_krw"]
    usd = body["indicators"][1]
    assert len(usd["forecast"]) == 24 and len(usd["history"]) == 3 and usd["as_of"] == "2025-12"
    assert {"month", "median", "p10", "p90"} == set(usd["forecast"][0])
    assert usd["model"] in ("naive", "drift") and usd["skill"]["model"] == usd["model"]
    assert usd["skill"]["rel_mase"] > 0 and 0 <= usd["skill"]["coverage"] <= 1 and usd["reason"]
    assert body["version"].startswith("20261101T000000Z-")


@pytest.mark.parametrize(("payload", "field"), [
    ({"indicators": ["gold"], "months": 3}, "indicators"),
    ({"indicators": [], "months": 3}, "indicators"),
    ({"indicators": ["cpi"], "months": 25}, "months"),
    ({"indicators": ["cpi"], "months": 0}, "months"),
])
def test_bad_requests_are_clear_422s(fx_url: str, payload: dict, field: str) -> None:
    for path in ("/forecast", "/forecast/stream"):
        r = httpx.post(f"{fx_url}{path}", json=payload, timeout=30)
        assert r.status_code == 422, r.text
        assert field in json.dumps(r.json())


def test_question_too_long_and_indicator_without_model(fx_url: str) -> None:
    r = httpx.post(f"{fx_url}/forecast/stream", json={"indicators": ["cpi"], "question": "가" * 2001}, timeout=30)
    assert r.status_code == 422 and "question" in r.text
    # kospi is a known indicator, but this published version has no model for it
    for path in ("/forecast", "/forecast/stream"):
        r = httpx.post(f"{fx_url}{path}", json={"indicators": ["kospi", "cpi"]}, timeout=30)
        assert r.status_code == 422, r.text
        assert "no model for kospi" in r.json()["detail"]


# --- SSE ---------------------------------------------------------------------------------------------
def test_stream_events_then_the_cache_replays_them(fx_url: str, homes: dict[str, Path]) -> None:
    payload = {"indicators": ["cpi", "base_rate"], "months": 6, "question": "물가와 금리 전망을 알려 주세요",
               "user_id": "U0000007"}
    r = httpx.post(f"{fx_url}/forecast/stream", json=payload, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache"
    events = sse.parse(r.text)
    names = [n for n, _ in events]
    assert names[0] == "forecast" and names[-1] == "done" and "error" not in names
    first_scenario = names.index("scenario")
    assert set(names[1:first_scenario]) == {"summary"} and set(names[first_scenario:-1]) == {"scenario"}
    fc, done = events[0][1], events[-1][1]
    assert [i["indicator"] for i in fc["indicators"]] == ["base_rate", "cpi"] and fc["months"] == 6
    assert done["cached"] is False and done["generators"] == {"summary": "offline", "scenario": "offline"}
    assert done["version"] == fc["version"]
    cases = [d["case"] for n, d in events if n == "scenario"]
    assert list(dict.fromkeys(cases)) == ["낙관", "기준", "비관"]
    assert r.text.startswith("id: 1\nevent: forecast\n")

    # the same question (written differently) is replayed from the ingress's copy of the answer
    again = httpx.post(f"{fx_url}/forecast/stream", json={**payload, "question": " 물가와  금리 전망을 알려 주세요?"},
                       timeout=60)
    replay = sse.parse(again.text)
    assert replay[:-1] == events[:-1] and replay[-1][1]["cached"] is True
    assert replay[-1][1]["cache_layer"] == "ingress" and replay[-1][1]["log_id"] != done["log_id"]
    assert again.headers["content-length"] == str(len(again.content))  # one complete response

    # both conversations were stored as chat logs by the replica
    from finray.stores.lance import LanceStore

    deadline = time.monotonic() + 20
    while True:
        logs, total = LanceStore(homes["ready"] / "lance").chat_logs(user_id="U0000007")
        if total >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert total == 2 and {lg.kind for lg in logs} == {"forecast"}
    assert {lg.meta["cached"] for lg in logs} == {True, False}
    assert all(lg.meta["models"].keys() == {"base_rate", "cpi"} and "[낙관]" in lg.answer for lg in logs)


def test_deployment_handle_streams_batches(fx_url: str) -> None:
    handle = serve.get_deployment_handle("Forecaster-fx", app_name="fx-test")
    req = {"indicators": ["usd_krw"], "months": 3, "question": "환율"}
    batches = list(handle.options(stream=True).stream.remote(req))
    assert [e["event"] for e in batches[0]] == ["forecast"] and batches[-1][-1]["event"] == "done"
    assert len(batches) == 4  # forecast, summary stage, scenario stage, done
    hit = list(handle.options(stream=True).stream.remote(req))
    assert len(hit) == 1 and hit[0][-1]["data"]["cached"] is True  # one batch: the whole answer
    assert handle.version.remote().result() == batches[0][0]["data"]["version"]
    stats = handle.cache_stats.remote().result()
    assert stats["backend"] == "in-process" and stats["hits"] >= 1


# --- no model yet ---------------------------------------------------------------------------------
def test_no_published_model_is_503_until_one_is_published(serve_base: str, homes: dict) -> None:
    serve.run(forecast_app(homes["empty"], "empty"), name="fx-empty", route_prefix="/fx-empty")
    url = f"{serve_base}/fx-empty/api/v1"
    try:
        _wait_ready(url + "/forecast")
        for path in ("/forecast", "/forecast/stream"):
            r = httpx.post(f"{url}{path}", json={"indicators": ["cpi"]}, timeout=30)
            assert r.status_code == 503 and "train_forecaster" in r.json()["detail"]
        publish_version(homes["empty"] / "models", homes["trained"])
        r = httpx.post(f"{url}/forecast", json={"indicators": ["cpi"]}, timeout=30)
        assert r.status_code == 200 and r.json()["indicators"][0]["indicator"] == "cpi"
    finally:
        serve.delete("fx-empty")


def test_router_without_a_forecaster_handle_answers_503() -> None:
    app = forecast_test_app()
    with TestClient(app) as client:
        r = client.post("/api/v1/forecast", json={"indicators": ["cpi"]})
        assert r.status_code == 503 and "forecaster" in r.json()["detail"]
        app.state.services = SimpleNamespace(handles={})  # serve_apps.deps.Services without it
        assert client.post("/api/v1/forecast/stream", json={"indicators": ["cpi"]}).status_code == 503


# --- the router's cache layers, without Serve ----------------------------------------------------------
class _Remote:
    """``handle.<method>`` stand-in: ``.remote(...)`` returns an awaitable, like a DeploymentResponse."""

    def __init__(self, fn: Any, calls: list[str], name: str) -> None:
        self.fn, self.calls, self.name = fn, calls, name

    def remote(self, *args: Any) -> Any:
        self.calls.append(self.name)

        async def run() -> Any:
            return self.fn(*args)
        return run()


class _Stream:
    def __init__(self, fn: Any, calls: list[str], name: str) -> None:
        self.fn, self.calls, self.name = fn, calls, name

    def remote(self, *args: Any) -> Any:
        self.calls.append(self.name)

        async def gen() -> Any:
            for batch in self.fn(*args):
                yield batch
        return gen()


class FakeForecasterHandle:
    """The Forecaster deployment's methods over a real RiskXpert, called the way the router calls them."""

    def __init__(self, service: Any) -> None:
        from finray.riskxpert import StreamRequest
        from finray.riskxpert.schemas import StreamDone

        self.calls: list[str] = []
        self.recorded: list[dict] = []
        v = lambda r: StreamRequest.model_validate(r)  # noqa: E731
        self.version = _Remote(lambda: service.version, self.calls, "version")
        self.replay = _Remote(lambda r: service.replay(v(r)), self.calls, "replay")
        def record_many(items: list) -> None:
            for r, e, d in items:
                self.recorded.append(d)
                service.record(v(r), e, StreamDone.model_validate(d))

        self.record_many = _Remote(record_many, self.calls, "record_many")
        self.generate = _Stream(lambda r: service.generate(v(r)), self.calls, "generate")

    def options(self, stream: bool = False) -> FakeForecasterHandle:
        return self


def test_ingress_copy_then_forecaster_cache_then_new_version(homes: dict, tmp_path: Path) -> None:
    import shutil

    from finray.cache import InProcessCache
    from finray.forecasting.artifacts import load_latest
    from finray.riskxpert import RiskXpert
    from serve_apps.routes import forecast as routes

    home = tmp_path / "home"
    shutil.copytree(homes["ready"] / "models", home / "models")
    service = RiskXpert(lambda: load_latest(home), cache=InProcessCache(), reload_interval_s=0.0)
    handle = FakeForecasterHandle(service)
    clock = [1000.0]
    app = forecast_test_app()
    app.state.services = SimpleNamespace(forecaster=handle)
    app.state.riskxpert_answers = routes.IngressAnswers(clock=lambda: clock[0])
    body = {"indicators": ["usd_krw"], "months": 3, "question": "환율은요?"}
    with TestClient(app) as client:
        def ask() -> dict:
            r = client.post("/api/v1/forecast/stream", json=body)
            assert r.status_code == 200, r.text
            return sse.parse(r.text)[-1][1]

        assert ask()["cache_layer"] is None  # computed (streamed by the Forecaster)
        assert handle.calls == ["version", "replay", "generate"]
        handle.calls.clear()
        hit = ask()
        assert hit["cache_layer"] == "ingress" and handle.calls == []  # no round trip at all
        time.sleep(routes.RECORD_INTERVAL_S + 0.3)
        client.get("/api/v1/nothing")  # let the app's loop run the batched chat-log call
        assert handle.calls == ["record_many"] and handle.recorded[0]["log_id"] == hit["log_id"]
        # a new ingress replica (empty copy) is answered from the Forecaster's cache
        app.state.riskxpert_answers = routes.IngressAnswers(clock=lambda: clock[0])
        handle.calls.clear()
        assert ask()["cache_layer"] == "forecaster" and handle.calls == ["version", "replay"]
        assert ask()["cache_layer"] == "ingress"
        # a newly published version: the ingress notices within VERSION_TTL_S and stops using its copy
        new = publish_version(home / "models", homes["trained"], created_at=datetime(2026, 11, 5, tzinfo=UTC))
        assert ask()["cache_layer"] == "ingress"  # still within VERSION_TTL_S of the last version check
        clock[0] += routes.VERSION_TTL_S
        fresh = ask()
        assert fresh["cache_layer"] is None and fresh["version"] == new
        time.sleep(routes.RECORD_INTERVAL_S + 0.3)
        client.get("/api/v1/nothing")
    assert len(handle.recorded) == 3 and all(d["cache_layer"] == "ingress" for d in handle.recorded)
