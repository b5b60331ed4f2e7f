"""RiskXpert service: forecasts from a published version, the two narrative stages with number
verification, the answer cache (in-process, the Redis here, Redis down) and chat logs.

The chat model is a scripted ``BaseChatModel`` (the service calls ``with_structured_output`` on it
exactly as on ``ChatGoogleGenerativeAI``); one test runs the real ``ChatGoogleGenerativeAI``
against a loopback ``generateContent``. Artifacts are trained here on the bundled series with the
cheap baselines only (seconds), published to a temp dir and loaded like in production.
"""

from __future__ import annotations

import json
import os
import socket
import typing
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, Field, ValidationError

from finray.cache import InProcessCache, RedisCache
from finray.chatlog import is_log_id
from finray.forecasting import TrainConfig, train_indicator
from finray.forecasting.artifacts import load_latest, publish_version
from finray.indicators.series import INDICATORS, load_bundled, usable_history
from finray.riskxpert import ForecastRequest, RiskXpert, StreamRequest, UnknownIndicator
from finray.riskxpert.narrative import (
    CASES,
    ForecastSummary,
    ScenarioNarrative,
    build_facts,
    offline_scenarios,
    offline_summary,
    verify_narrative,
    with_unit,
)
from finray.riskxpert.schemas import IndicatorKey
from finray.riskxpert.service import normalize_question
from finray.stores.lance import LanceStore
from tests.fakes.loopback import LoopbackServer

REDIS_URL = os.environ.get("FINRAY_TEST_REDIS_URL")
CFG = TrainConfig(models=("naive", "drift"), n_origins=12, n_calibration=12)
QUESTION = "내년 기준금리와 환율은 어떻게 될까요? 금리가 2.25%까지 내려갈까요?"


# =============================================================================================
# fixtures: published versions, a service, a store
# =============================================================================================
@pytest.fixture(scope="module")
def trained() -> list:
    return [train_indicator(k, usable_history(load_bundled(k)), CFG) for k in INDICATORS]


@pytest.fixture
def models_dir(tmp_path: Path, trained) -> Path:
    publish_version(tmp_path / "models", trained, created_at=datetime(2026, 11, 1, tzinfo=UTC))
    return tmp_path / "models"


def make_service(models_dir: Path, *, chat_model: BaseChatModel | None = None, store: Any = None,
                 cache: Any = None, **kw: Any) -> RiskXpert:
    return RiskXpert(lambda: load_latest(models_dir.parent), cache=cache or InProcessCache(),
                     chat_model=chat_model, store=store, **kw)


def collect(service: RiskXpert, request: StreamRequest) -> tuple[list[list[dict]], list[dict]]:
    batches = list(service.stream(request))
    return batches, [e for b in batches for e in b]


# =============================================================================================
# a scripted chat model
# =============================================================================================
class ScriptedChatModel(BaseChatModel):
    """Answers each call with the next scripted schema instance (as a tool call) or raises it."""

    script: list[Any] = Field(default_factory=list)
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-test-double"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any):  # type: ignore[override]
        return self.bind(tools=tools, tool_choice=tool_choice, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.calls.append(list(messages))
        step = self.script[min(len(self.calls), len(self.script)) - 1]
        if isinstance(step, Exception):
            raise step
        msg = AIMessage(content="", tool_calls=[
            {"name": type(step).__name__, "args": step.model_dump(), "id": f"call_{len(self.calls)}"}])
        return ChatResult(generations=[ChatGeneration(message=msg)])


def good_answers(service: RiskXpert, request: StreamRequest) -> tuple[ForecastSummary, ScenarioNarrative]:
    """What a well-behaved model writes: only numbers copied from the facts (some rounded)."""
    facts = build_facts(service.forecast(request))
    lines = []
    for f in facts.indicators:
        p = f.final
        lines.append(f"{f.name}는 {p.month}에 중앙값 {with_unit(p.median, f.unit)}로 예상되며, 80% 예측구간은 "
                     f"{with_unit(p.p10, f.unit)}~{with_unit(p.p90, f.unit)}입니다. 상대 MASE는 {f.rel_mase}입니다.")
    usd = next(f for f in facts.indicators if f.key == "usd_krw")
    lines.append(f"{request.months}개월 뒤 원/달러는 대략 {usd.final.median.split('.')[0]}원 안팎입니다.")  # rounded level
    lines.append("문의하신 2.25% 수준은 80% 구간 안에 있는지 표를 참고해 주세요.")  # a number from the question
    scen = {c: " ".join(f"{f.name}: {f.cases[c].value}({f.cases[c].change})." for f in facts.indicators) for c in CASES}
    return (ForecastSummary(summary=" ".join(lines)),
            ScenarioNarrative(optimistic=scen["낙관"], base=scen["기준"], pessimistic=scen["비관"]))


def hallucinated_summary() -> ForecastSummary:
    return ForecastSummary(summary="원/달러 환율은 2026-12에 1,999.99원까지 오를 것으로 보입니다. 36개월 뒤에는 더 오릅니다.")


REQ = StreamRequest(indicators=["usd_krw", "base_rate"], months=12, question=QUESTION, user_id="U0000042")


# =============================================================================================
# forecast
# =============================================================================================
def test_indicator_keys_match_the_catalogue() -> None:
    assert set(typing.get_args(IndicatorKey)) == set(INDICATORS)


def test_forecast_numbers_model_and_skill(models_dir: Path) -> None:
    svc = make_service(models_dir)
    res = svc.forecast(ForecastRequest(indicators=["cpi", "base_rate", "cpi"], months=24, history_months=6))
    assert [i.indicator for i in res.indicators] == ["base_rate", "cpi"]  # catalogue order, deduplicated
    assert res.version == load_latest(models_dir.parent).version and res.months == 24
    base = res.indicators[0]
    assert base.as_of == "2025-12" and [h.month for h in base.history][-1] == "2025-12" and len(base.history) == 6
    assert base.history[-1].value == 2.5 and base.unit == "연%" and base.name_ko == "한국은행 기준금리"
    assert [p.month for p in base.forecast][:2] == ["2026-01", "2026-02"] and len(base.forecast) == 24
    assert all(p.p10 <= p.median <= p.p90 for i in res.indicators for p in i.forecast)
    assert base.model in ("naive", "drift") and base.reason
    assert base.skill.model == base.model and base.skill.rel_mase is not None and 0 <= base.skill.coverage <= 1
    assert set(base.skill.by_horizon) == {"1", "3", "6", "12"} and base.skill.raw_coverage is not None
    json.dumps(res.model_dump(mode="json"), allow_nan=False)  # valid JSON: no NaN anywhere


def test_request_validation_errors_name_the_field() -> None:
    for bad, field in [({"indicators": [], "months": 3}, "indicators"),
                       ({"indicators": ["gold"], "months": 3}, "indicators"),
                       ({"indicators": ["cpi"], "months": 25}, "months"),
                       ({"indicators": ["cpi"], "months": 0}, "months"),
                       ({"indicators": ["cpi"], "question": "가" * 2001}, "question"),
                       ({"indicators": ["cpi"], "colour": "red"}, "colour"),
                       ({"indicators": ["cpi"], "user_id": "admin; drop"}, "user_id")]:
        with pytest.raises(ValidationError) as err:
            StreamRequest.model_validate(bad)
        assert err.value.errors()[0]["loc"][0] == field


def test_an_indicator_missing_from_the_version_is_a_clear_error(tmp_path: Path, trained) -> None:
    publish_version(tmp_path / "models", [t for t in trained if t.key == "cpi"])
    svc = make_service(tmp_path / "models")
    with pytest.raises(UnknownIndicator, match="no model for kospi"):
        svc.forecast(ForecastRequest(indicators=["kospi", "cpi"]))


# =============================================================================================
# narrative: offline writer and verification
# =============================================================================================
@pytest.mark.parametrize("months", [1, 2, 3, 5, 6, 12, 13, 24])
def test_offline_narrative_passes_its_own_verification(models_dir: Path, months: int) -> None:
    svc = make_service(models_dir)
    for keys in [[k] for k in INDICATORS] + [list(INDICATORS)]:
        facts = build_facts(svc.forecast(ForecastRequest(indicators=keys, months=months)))
        summary = "".join(offline_summary(facts, QUESTION))
        v = verify_narrative(summary, facts, QUESTION)
        assert v.ok and v.claims_checked > 5, (keys, months, v.problems)
        for case, chunks in offline_scenarios(facts).items():
            v = verify_narrative("".join(chunks), facts, QUESTION)
            assert v.ok, (keys, months, case, v.problems)
    assert "".join(offline_summary(facts, QUESTION)) == "".join(offline_summary(facts, QUESTION))


def test_offline_scenarios_take_the_favourable_end_per_indicator(models_dir: Path) -> None:
    svc = make_service(models_dir)
    res = svc.forecast(ForecastRequest(indicators=["kospi", "cpi"], months=6))
    facts = build_facts(res)
    kospi, cpi = res.indicators[0].forecast[5], res.indicators[1].forecast[5]
    by_key = {f.key: f for f in facts.indicators}
    assert by_key["kospi"].cases["낙관"].value == f"{kospi.p90:,.2f}"  # stocks: up is good
    assert by_key["cpi"].cases["낙관"].value == f"{cpi.p10:,.3f}"  # prices: down is good
    assert by_key["cpi"].cases["비관"].value == f"{cpi.p90:,.3f}"
    assert by_key["kospi"].cases["기준"].value == f"{kospi.median:,.2f}"


def test_verification_catches_invented_numbers_horizons_and_dates(models_dir: Path) -> None:
    svc = make_service(models_dir)
    facts = build_facts(svc.forecast(ForecastRequest(indicators=["usd_krw", "ktb3y", "cpi"], months=12)))
    usd = next(f for f in facts.indicators if f.key == "usd_krw")
    ok = (f"원/달러 환율은 2026-12에 {with_unit(usd.final.median, '원')}로, 약 {usd.final.median.split('.')[0]}원입니다. "
          "국고채 3년물과 소비자물가지수(2020=100)도 12개월 뒤를 봅니다. 2026년 3월에는 별일 없고 3가지 지표를 봅니다.")
    assert verify_narrative(ok, facts).ok, verify_narrative(ok, facts).problems
    off_by = f"{float(usd.final.median.replace(',', '')) + 0.37:,.2f}"
    for bad, what in [("원/달러 환율은 1,999.99원까지 오릅니다.", "1,999.99"),
                      ("원/달러 환율은 36개월 뒤 내려갑니다.", "36개월"),
                      ("2031년에는 원/달러 환율이 내려갑니다.", "2031년"),
                      (f"원/달러 환율은 {off_by}원입니다.", off_by),  # close, but not a fact
                      ("금리는 연 4.75%가 됩니다.", "4.75")]:
        v = verify_narrative(bad, facts)
        assert not v.ok and any(what in p for p in v.problems), (bad, v.problems)
    # numbers from the user's question are never claims (as in the advisor)
    assert verify_narrative("문의하신 연 4.75%는 구간 밖입니다.", facts, context="금리가 4.75%가 될까요?").ok


# =============================================================================================
# the two LLM stages
# =============================================================================================
def test_a_grounded_model_narrative_is_served(models_dir: Path) -> None:
    svc = make_service(models_dir)
    summary, scenario = good_answers(svc, REQ)
    model = ScriptedChatModel(script=[summary, scenario])
    svc.chat_model = model
    _, events = collect(svc, REQ)
    done = events[-1]["data"]
    assert done["generators"] == {"summary": "gemini", "scenario": "gemini"}, done
    assert done["cacheable"] is True and done["cache_layer"] is None
    assert done["regenerated"] == {"summary": False, "scenario": False} and done["fallback_reasons"] == {}
    assert len(model.calls) == 2  # two separate calls: summary, then scenarios
    text = "".join(e["data"]["text"] for e in events if e["event"] == "summary")
    assert text.replace(" ", "") == summary.summary.replace(" ", "")
    # the scenario prompt carries the verified summary and the per-case numbers
    scen_prompt = model.calls[1][-1].content
    assert "[시나리오 수치]" in scen_prompt and "[요약]" in scen_prompt and summary.summary[:30] in scen_prompt
    cases = [e["data"]["case"] for e in events if e["event"] == "scenario"]
    assert list(dict.fromkeys(cases)) == ["낙관", "기준", "비관"] and cases == sorted(cases, key=CASES.index)


def test_a_hallucinated_number_is_caught_and_regenerated_once(models_dir: Path) -> None:
    svc = make_service(models_dir)
    summary, scenario = good_answers(svc, REQ)
    model = ScriptedChatModel(script=[hallucinated_summary(), summary, scenario])
    svc.chat_model = model
    _, events = collect(svc, REQ)
    done = events[-1]["data"]
    assert done["generators"]["summary"] == "gemini" and done["regenerated"]["summary"] is True
    text = "".join(e["data"]["text"] for e in events if e["event"] == "summary")
    assert "1,999.99" not in text and "36개월" not in text
    retry = model.calls[1][-1].content
    assert "[이전 답변의 문제" in retry and "1,999.99" in retry and "36개월" in retry


def test_a_model_that_keeps_hallucinating_is_replaced_by_the_offline_text(models_dir: Path) -> None:
    svc = make_service(models_dir)
    _, scenario = good_answers(svc, REQ)
    bad_scenario = scenario.model_copy(update={"pessimistic": "원/달러 환율이 2,345.67원까지 오릅니다."})
    model = ScriptedChatModel(script=[hallucinated_summary(), hallucinated_summary(), bad_scenario, bad_scenario])
    svc.chat_model = model
    _, events = collect(svc, REQ)
    done = events[-1]["data"]
    assert len(model.calls) == 4  # each stage: first answer + one retry, no more
    assert done["generators"] == {"summary": "gemini→offline", "scenario": "gemini→offline"}
    assert done["fallback_reasons"]["summary"].startswith("검증 실패") and "1,999.99" in done["fallback_reasons"]["summary"]
    assert "[비관]" in done["fallback_reasons"]["scenario"] and "2,345.67" in done["fallback_reasons"]["scenario"]
    facts = build_facts(svc.forecast(REQ))
    assert "".join(e["data"]["text"] for e in events if e["event"] == "summary") == "".join(offline_summary(facts, QUESTION))


def test_a_model_error_falls_back_to_offline_without_retrying(models_dir: Path) -> None:
    svc = make_service(models_dir)
    _, scenario = good_answers(svc, REQ)
    model = ScriptedChatModel(script=[RuntimeError("429 RESOURCE_EXHAUSTED"), scenario])
    svc.chat_model = model
    _, events = collect(svc, REQ)
    done = events[-1]["data"]
    assert done["generators"] == {"summary": "gemini→offline", "scenario": "gemini"}
    assert done["regenerated"]["summary"] is False
    assert done["fallback_reasons"]["summary"] == "모델 오류: RuntimeError: 429 RESOURCE_EXHAUSTED"
    assert len(model.calls) == 2 and done["cacheable"] is False
    # an answer written offline because the model was down is not cached: the next asker retries it
    model.script = [good_answers(svc, REQ)[0], scenario]
    model.calls.clear()
    again = collect(svc, REQ)[1][-1]["data"]
    assert again["cached"] is False and again["generators"]["summary"] == "gemini"
    assert collect(svc, REQ)[1][-1]["data"]["cached"] is True  # and that answer is


def test_a_scenario_answer_missing_a_case_is_regenerated(models_dir: Path) -> None:
    svc = make_service(models_dir)
    summary, scenario = good_answers(svc, REQ)
    model = ScriptedChatModel(script=[summary, scenario.model_copy(update={"base": " "}), scenario])
    svc.chat_model = model
    _, events = collect(svc, REQ)
    assert events[-1]["data"]["regenerated"]["scenario"] is True
    assert "기준 시나리오가 비어 있습니다" in model.calls[2][-1].content


# =============================================================================================
# streaming, cache, chat logs
# =============================================================================================
def test_stream_order_cache_replay_and_chat_logs(models_dir: Path, tmp_path: Path) -> None:
    store = LanceStore(tmp_path / "lance")
    svc = make_service(models_dir, store=store)
    miss_batches, miss = collect(svc, REQ)
    kinds = [e["event"] for e in miss]
    assert kinds[0] == "forecast" and kinds[-1] == "done"
    first_scen = kinds.index("scenario")
    assert set(kinds[1:first_scen]) == {"summary"} and set(kinds[first_scen:-1]) == {"scenario"}
    assert len(miss_batches) == 4  # forecast, summary stage, scenario stage, done
    assert miss[-1]["data"]["cached"] is False

    # the same question, written differently, is replayed from the cache in one batch
    again = REQ.model_copy(update={"question": "  내년 기준금리와 환율은   어떻게 될까요?  금리가 2.25%까지 내려갈까요 ?? "})
    assert normalize_question(again.question) == normalize_question(REQ.question)
    hit_batches, hit = collect(svc, again)
    assert len(hit_batches) == 1 and hit[-1]["data"]["cached"] is True
    assert hit[:-1] == miss[:-1]  # the whole event sequence, identical
    assert hit[-1]["data"]["generators"] == miss[-1]["data"]["generators"]
    assert hit[-1]["data"]["log_id"] != miss[-1]["data"]["log_id"]
    assert is_log_id(hit[-1]["data"]["log_id"])  # the id feedback on the answer refers to
    # another question, or other months, is a miss
    assert collect(svc, REQ.model_copy(update={"question": "KOSPI는요?"}))[1][-1]["data"]["cached"] is False
    assert collect(svc, REQ.model_copy(update={"months": 6}))[1][-1]["data"]["cached"] is False

    svc.flush()
    logs, total = store.chat_logs(user_id="U0000042")
    assert total == 4 and all(lg.kind == "forecast" for lg in logs)
    by_id = {lg.log_id: lg for lg in logs}
    first = by_id[miss[-1]["data"]["log_id"]]
    assert first.question == QUESTION and first.generator == "offline" and first.meta["cached"] is False
    assert first.meta["indicators"] == ["base_rate", "usd_krw"] and first.meta["version"] == miss[-1]["data"]["version"]
    assert "[낙관]" in first.answer and "[비관]" in first.answer
    assert by_id[hit[-1]["data"]["log_id"]].meta["cached"] is True


def test_narrative_without_a_history_tail_still_quotes_the_last_observation(models_dir: Path) -> None:
    svc = make_service(models_dir)
    events = collect(svc, REQ.model_copy(update={"history_months": 0}))[1]
    assert all(not i["history"] for i in events[0]["data"]["indicators"])
    summary = "".join(e["data"]["text"] for e in events if e["event"] == "summary")
    assert "마지막 관측(2025-12) 연 2.50%" in summary


def test_a_new_model_version_invalidates_the_cache(models_dir: Path, trained) -> None:
    svc = make_service(models_dir, reload_interval_s=0.0)  # re-read `latest` on every request
    v1 = collect(svc, REQ)[1]
    assert collect(svc, REQ)[1][-1]["data"]["cached"] is True
    v2_name = publish_version(models_dir, trained, created_at=datetime(2026, 11, 2, tzinfo=UTC))
    after = collect(svc, REQ)[1]
    assert after[-1]["data"]["cached"] is False and after[-1]["data"]["version"] == v2_name
    assert after[0]["data"]["version"] == v2_name != v1[0]["data"]["version"]


def test_a_failing_chat_log_store_never_fails_the_answer(models_dir: Path, caplog) -> None:
    class BrokenStore(LanceStore):
        def __init__(self) -> None:  # noqa: D401 - no files needed
            pass

        def add_chat_logs(self, logs) -> None:
            raise OSError("disk full")

    svc = make_service(models_dir, store=BrokenStore())
    events = collect(svc, REQ)[1]
    svc.flush()
    assert events[-1]["event"] == "done"
    assert any("chat-log write of 1 logs failed" in r.getMessage() for r in caplog.records)
    assert svc._writer.pending == 1  # kept for the next flush, not lost
    svc._writer.close(timeout_s=0.1)  # stop retrying against the broken store


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_redis_down_answers_uncached(models_dir: Path) -> None:
    svc = make_service(models_dir, cache=RedisCache(f"redis://127.0.0.1:{_closed_port()}/15", retry_after_s=0.0))
    for _ in range(2):
        events = collect(svc, REQ)[1]
        assert events[-1]["event"] == "done" and events[-1]["data"]["cached"] is False
        assert [e["event"] for e in events].count("forecast") == 1
    assert svc.cache.stats.errors >= 2


@pytest.mark.skipif(not REDIS_URL, reason="FINRAY_TEST_REDIS_URL not set (e.g. redis://127.0.0.1:6379/15)")
def test_replicas_share_answers_through_redis(models_dir: Path) -> None:
    import redis

    prefix = f"finray-test-rx-{uuid.uuid4().hex[:12]}"
    try:
        a = make_service(models_dir, cache=RedisCache(REDIS_URL, ttl_s=60), cache_prefix=prefix)
        b = make_service(models_dir, cache=RedisCache(REDIS_URL, ttl_s=60), cache_prefix=prefix)
        miss = collect(a, REQ)[1]
        batches, hit = collect(b, REQ)  # another replica, same Redis
        assert len(batches) == 1 and hit[-1]["data"]["cached"] is True and hit[:-1] == miss[:-1]
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}:*"))
        assert len(keys) == 1 and f":{miss[-1]['data']['version']}:" in keys[0].decode()
        assert 0 < client.pttl(keys[0]) <= 60_000
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for k in client.scan_iter(f"{prefix}:*"):
            client.delete(k)


# =============================================================================================
# the real ChatGoogleGenerativeAI against a loopback generateContent
# =============================================================================================
def _gemini_handler(answers: list[BaseModel]):
    calls = {"n": 0}

    def handler(method: str, path: str, query: dict, body: Any, headers: dict) -> tuple[int, Any, dict]:
        assert path.endswith("/models/gemini-2.5-flash:generateContent")
        schema = json.dumps(body["generationConfig"]["responseJsonSchema"])
        answer = answers[min(calls["n"], len(answers) - 1)]
        calls["n"] += 1
        assert ("optimistic" in schema) == isinstance(answer, ScenarioNarrative)
        return 200, {
            "candidates": [{"content": {"role": "model", "parts": [{"text": answer.model_dump_json()}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 50, "totalTokenCount": 150},
            "modelVersion": "gemini-2.5-flash",
        }, {}
    return handler


def test_real_gemini_client_writes_both_stages(models_dir: Path, tmp_path: Path) -> None:
    from finray.agent.gemini import make_gemini_chat_model
    from finray.config import load_settings

    probe = make_service(models_dir)
    summary, scenario = good_answers(probe, REQ)
    with LoopbackServer(_gemini_handler([summary, scenario])) as server:
        settings = load_settings(FINRAY_HOME=str(tmp_path), FINRAY_LLM="gemini", GOOGLE_API_KEY="test-key",
                                 GEMINI_BASE_URL=server.url)
        svc = make_service(models_dir, chat_model=make_gemini_chat_model(settings))
        events = collect(svc, REQ)[1]
        assert len(server.requests) == 2 and server.requests[0]["headers"]["x-goog-api-key"] == "test-key"
    assert events[-1]["data"]["generators"] == {"summary": "gemini", "scenario": "gemini"}


@pytest.mark.skipif(
    not (os.environ.get("GOOGLE_API_KEY") and os.environ.get("FINRAY_TEST_GEMINI") == "1"),
    reason="real Gemini contract test: set GOOGLE_API_KEY and FINRAY_TEST_GEMINI=1",
)
def test_gemini_real_service_contract(models_dir: Path, tmp_path: Path) -> None:
    """Both stages through the real Gemini API: whatever it writes, only verified text is served."""
    from finray.agent.gemini import make_gemini_chat_model
    from finray.config import load_settings

    settings = load_settings(FINRAY_HOME=str(tmp_path), FINRAY_LLM="gemini", GOOGLE_API_KEY=os.environ["GOOGLE_API_KEY"])
    svc = make_service(models_dir, chat_model=make_gemini_chat_model(settings))
    events = collect(svc, REQ)[1]
    done = events[-1]["data"]
    assert set(done["generators"].values()) <= {"gemini", "gemini→offline"}
    facts = build_facts(svc.forecast(REQ))
    summary = "".join(e["data"]["text"] for e in events if e["event"] == "summary")
    assert verify_narrative(summary, facts, REQ.question).ok
