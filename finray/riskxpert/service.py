"""The RiskXpert service: forecasts from the published model version, narrated and cached.

One object per Serve replica (:class:`RiskXpert`), with everything injected so tests and the
benchmark run exactly this code:

* ``forecast(request)`` — the served model's precomputed, calibrated forecast per indicator from
  the latest published version (no model runs at request time), the history tail, the model's
  name, why it was chosen and its backtest skill;
* ``stream(request)`` — batches of events: the forecast numbers, then the **summary** stage, then
  the **scenario** stage (낙관/기준/비관), then ``done``. Each stage is verified
  (:mod:`finray.riskxpert.narrative`) before a word of it is sent;
* the **cache** (:mod:`finray.cache`) keys on (indicators, months, history months, normalized
  question, model version): a repeated question replays the whole event sequence in one batch.
  Cache trouble (Redis down) only means "answered uncached"; an answer written offline because
  the chat model failed is not cached, so the model gets another chance on the next ask;
* every stream is stored as a chat log (``kind="forecast"``) through the batching
  :class:`~finray.chatlog.BufferedLogWriter` (one store write per batch, never on the answer's
  path; failures are retried and logged, never raised). The ``log_id`` in ``done`` is the one
  feedback on the answer refers to.

The model version is re-read from the storage's ``latest`` pointer at most every
``reload_interval_s``: a newly published version is picked up without a redeploy, and because
the version is part of every cache key, answers about the old version are never served again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finray.cache import KEY_PREFIX, Cache, build_cache, cache_key
from finray.chatlog import BufferedLogWriter, answer_log, new_log_id
from finray.forecasting.artifacts import (
    ArtifactError,
    ModelBundle,
    latest_version,
    load_version,
    models_uri,
)
from finray.riskxpert.narrative import CASES, build_facts, run_stage
from finray.riskxpert.schemas import (
    BacktestSkill,
    ForecastPoint,
    ForecastRequest,
    ForecastResponse,
    HistoryPoint,
    HorizonSkill,
    IndicatorForecast,
    StreamDone,
    StreamRequest,
    finite_or_none,
)
from finray.stores.base import Store

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from finray.config import Settings

log = logging.getLogger(__name__)

Event = dict[str, Any]  # {"event": "forecast" | "summary" | "scenario" | "done", "data": {...}}
CACHE_NAMESPACE = "riskxpert:v1"  # bump when the event format changes


class ForecastUnavailable(RuntimeError):
    """No published model version can be read (serving answers 503 until one is)."""


class UnknownIndicator(ValueError):
    """The request names an indicator the published version has no model for (422)."""


def normalize_question(question: str) -> str:
    """Equal questions in different clothes share a cache entry: Unicode NFKC, case-folded,
    whitespace collapsed, trailing punctuation dropped ("기준금리 전망은?" == " 기준금리  전망은 ")."""
    q = unicodedata.normalize("NFKC", question).casefold()
    q = " ".join(q.split())
    return q.rstrip(" ?!.。？！…~")


def answer_key(request: StreamRequest, version: str, prefix: str = KEY_PREFIX) -> str:
    """The cache key of a streamed answer: (indicators, months, history months, normalized
    question) under the model ``version`` — shared by every cache layer that holds answers."""
    return cache_key(CACHE_NAMESPACE, version, {
        "indicators": request.indicators, "months": request.months,
        "history_months": request.history_months, "question": normalize_question(request.question),
    }, prefix=prefix)


def _skill(raw: dict[str, Any]) -> BacktestSkill:
    by_h = {
        str(h): HorizonSkill(
            n=int(v.get("n", 0) or 0),
            **{k: finite_or_none(v.get(k)) for k in ("mase", "rel_mase", "mae", "coverage", "width", "raw_coverage")},
        )
        for h, v in (raw.get("by_horizon") or {}).items()
    }
    return BacktestSkill(
        model=raw["model"], rel_mase=finite_or_none(raw.get("rel_mase")), mase=finite_or_none(raw.get("mase")),
        mae=finite_or_none(raw.get("mae")), coverage=finite_or_none(raw.get("coverage")),
        raw_coverage=finite_or_none(raw.get("raw_coverage")), n=int(raw.get("n", 0) or 0), by_horizon=by_h,
    )


def forecast_response(bundle: ModelBundle, request: ForecastRequest) -> ForecastResponse:
    """The :class:`ForecastResponse` for ``request`` from one published version."""
    missing = [k for k in request.indicators if k not in bundle.choices]
    if missing:
        raise UnknownIndicator(f"indicators: no model for {', '.join(missing)} in version {bundle.version} "
                               f"(have {', '.join(bundle.indicators)})")
    items = []
    for key in request.indicators:
        r = bundle.forecast(key, request.months, history_months=request.history_months)
        items.append(IndicatorForecast(
            indicator=key, name_ko=r.name_ko, unit=r.unit, model=r.model, reason=r.reason, as_of=r.as_of,
            history=[HistoryPoint(month=m, value=v) for m, v in r.history],
            forecast=[ForecastPoint(month=m, median=a, p10=lo, p90=hi)
                      for m, a, lo, hi in zip(r.months, r.median, r.p10, r.p90, strict=True)],
            skill=_skill(r.skill), warning=r.warning, reason_ko=r.reason_ko, warning_ko=r.warning_ko,
        ))
    return ForecastResponse(version=bundle.version, months=request.months, indicators=items)


class RiskXpert:
    """Forecasts + narrative + cache + chat logs for one replica (see the module docstring)."""

    def __init__(
        self,
        load_bundle: Callable[[], ModelBundle],
        *,
        cache: Cache,
        chat_model: BaseChatModel | None = None,
        model_name: str = "gemini",
        store: Store | None = None,
        reload_interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        cache_prefix: str = KEY_PREFIX,
    ) -> None:
        self._load_bundle = load_bundle
        self.cache = cache
        self._cache_prefix = cache_prefix
        self.chat_model = chat_model
        self.model_name = model_name
        self._reload_interval_s = reload_interval_s
        self._clock = clock
        self._bundle: ModelBundle | None = None
        self._checked_at = -float("inf")
        self._lock = threading.Lock()
        self._writer = BufferedLogWriter(store) if store is not None else None

    # --- model version --------------------------------------------------------------------------
    def bundle(self, *, force: bool = False) -> ModelBundle:
        """The current published version, re-checked at most every ``reload_interval_s``."""
        now = self._clock()
        with self._lock:
            if force or self._bundle is None or now - self._checked_at >= self._reload_interval_s:
                self._checked_at = now
                try:
                    latest = self._load_bundle()
                except (ArtifactError, OSError) as err:
                    if self._bundle is None:
                        raise ForecastUnavailable(str(err)) from None
                    log.warning("could not re-read the model version, keeping %s: %s", self._bundle.version, err)
                else:
                    if self._bundle is None or latest.version != self._bundle.version:
                        log.info("serving forecaster version %s", latest.version)
                    self._bundle = latest
            return self._bundle

    @property
    def version(self) -> str:
        return self.bundle().version

    # --- forecast -------------------------------------------------------------------------------
    def forecast(self, request: ForecastRequest) -> ForecastResponse:
        return forecast_response(self.bundle(), request)

    # --- stream ---------------------------------------------------------------------------------
    def cache_key_for(self, request: StreamRequest, version: str) -> str:
        return answer_key(request, version, self._cache_prefix)

    def replay(self, request: StreamRequest) -> list[Event] | None:
        """The whole event sequence from the cache (ending in ``done``), or ``None`` on a miss."""
        t0 = time.perf_counter()
        version = self.version
        raw = self.cache.get(self.cache_key_for(request, version))
        if raw is None:
            return None
        try:
            payload = json.loads(raw)
            events: list[Event] = payload["events"]
            meta: dict[str, Any] = payload["meta"]
        except (ValueError, KeyError, TypeError) as err:
            log.warning("unreadable cache entry ignored: %s", err)
            return None
        log_id = new_log_id()
        done = StreamDone(cached=True, cache_layer="forecaster", version=version, log_id=log_id,
                          generators=meta["generators"],
                          regenerated=meta["regenerated"], fallback_reasons=meta["fallback_reasons"],
                          elapsed_ms=round(1000 * (time.perf_counter() - t0), 2))
        self._log(request, events, done, meta)
        return [*events, {"event": "done", "data": done.model_dump()}]

    def generate(self, request: StreamRequest) -> Iterator[list[Event]]:
        """Compute the answer stage by stage (cache miss), yielding each stage's events as a batch."""
        t0 = time.perf_counter()
        bundle = self.bundle()
        fc = forecast_response(bundle, request)
        events: list[Event] = [{"event": "forecast", "data": fc.model_dump(mode="json")}]
        yield list(events)

        # the narrative always needs the last observation and the one a year before, whatever
        # history tail the client asked to see
        facts = build_facts(fc if request.history_months >= 13 else forecast_response(
            bundle, request.model_copy(update={"history_months": 13})))
        summary = run_stage("summary", facts, request.question, chat_model=self.chat_model,
                            model_name=self.model_name)
        batch = [{"event": "summary", "data": {"text": t}} for _, t in summary.chunks]
        events += batch
        yield batch

        scenario = run_stage("scenario", facts, request.question, chat_model=self.chat_model,
                             summary=summary.text(), model_name=self.model_name)
        batch = [{"event": "scenario", "data": {"case": c, "text": t}} for c, t in scenario.chunks]
        events += batch
        yield batch

        meta = {
            "generators": {"summary": summary.generator, "scenario": scenario.generator},
            "regenerated": {"summary": summary.regenerated, "scenario": scenario.regenerated},
            "fallback_reasons": {s.stage: s.fallback_reason for s in (summary, scenario) if s.fallback_reason},
        }
        # an offline answer written because the model was down is not cached: once the model is
        # back, the next asker should get its answer (a verification fallback is cached — asking
        # again would most likely fail the same way)
        cacheable = not (summary.model_error or scenario.model_error)
        if cacheable:
            self.cache.set(self.cache_key_for(request, bundle.version),
                           json.dumps({"events": events, "meta": meta}, ensure_ascii=False).encode("utf-8"))
        done = StreamDone(cached=False, cacheable=cacheable, version=bundle.version, log_id=new_log_id(),
                          elapsed_ms=round(1000 * (time.perf_counter() - t0), 2), **meta)
        self._log(request, events, done, meta)
        yield [{"event": "done", "data": done.model_dump()}]

    def stream(self, request: StreamRequest) -> Iterator[list[Event]]:
        """Batches of events: one batch (everything) on a cache hit, one per stage on a miss."""
        cached = self.replay(request)
        if cached is not None:
            yield cached
            return
        yield from self.generate(request)

    # --- chat logs ------------------------------------------------------------------------------
    def record(self, request: StreamRequest, events: list[Event], done: StreamDone) -> None:
        """Store a conversation answered by another cache layer (the ingress's copy of answers)."""
        self._log(request, events, done, {"generators": done.generators,
                                          "fallback_reasons": done.fallback_reasons})

    def _log(self, request: StreamRequest, events: list[Event], done: StreamDone, meta: dict[str, Any]) -> None:
        if self._writer is None:
            return
        summary = "".join(e["data"]["text"] for e in events if e["event"] == "summary").strip()
        scen = {c: "".join(e["data"]["text"] for e in events if e["event"] == "scenario" and e["data"]["case"] == c).strip()
                for c in CASES}
        fc = next((e["data"] for e in events if e["event"] == "forecast"), {})
        gens = set(meta["generators"].values())
        try:
            self._writer.submit(answer_log(
                log_id=done.log_id, user_id=request.user_id or "anonymous", kind="forecast",
                question=request.question,
                answer="\n\n".join([summary, *(f"[{c}] {t}" for c, t in scen.items() if t)]),
                product_ids=(), latency_ms=done.elapsed_ms,
                generator=gens.pop() if len(gens) == 1 else "+".join(f"{k}:{v}" for k, v in meta["generators"].items()),
                meta={"indicators": request.indicators, "months": request.months, "version": done.version,
                      "cached": done.cached, "cache_layer": done.cache_layer,
                      "models": {i["indicator"]: i["model"] for i in fc.get("indicators", [])},
                      "generators": meta["generators"], "fallback_reasons": meta["fallback_reasons"]},
            ))
        except Exception as err:  # noqa: BLE001 - a lost log line must never fail an answer
            log.warning("chat log %s not queued: %s: %s", done.log_id, type(err).__name__, err)

    def flush(self) -> None:
        """Write the queued chat logs now (tests, shutdown)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def load_service(settings: Settings, *, chat_model: BaseChatModel | None | str = "auto",
                 cache: Cache | None = None, store: Store | None | str = "auto") -> RiskXpert:
    """A :class:`RiskXpert` wired from settings: artifacts under ``FINRAY_MODEL_STORAGE_URI`` (or
    ``<home>/models``), the configured cache, Gemini when ``FINRAY_LLM=gemini``, the configured store."""
    from finray.agent.gemini import chat_model_from_settings
    from finray.stores.factory import open_store

    home = Path(settings.home)
    loaded: dict[str, ModelBundle] = {}

    def load() -> ModelBundle:
        """Follow ``latest``; files are read only when it points to a version not loaded yet."""
        version = latest_version(home, settings.model_storage_uri)
        if version not in loaded:
            loaded.clear()
            loaded[version] = load_version(models_uri(home, settings.model_storage_uri), version)
        return loaded[version]

    model = chat_model_from_settings(settings) if chat_model == "auto" else chat_model
    return RiskXpert(
        load,
        cache=cache or build_cache(settings),
        chat_model=model,  # type: ignore[arg-type]
        model_name=settings.llm if settings.llm != "offline" else "gemini",
        store=open_store(settings) if store == "auto" else store,  # type: ignore[arg-type]
    )


__all__ = [
    "CACHE_NAMESPACE", "Event", "ForecastUnavailable", "RiskXpert", "UnknownIndicator", "answer_key",
    "forecast_response", "load_service", "normalize_question",
]
