"""Forecaster: RiskXpert on Serve — published forecasts, the narrated stream, the answer cache.

All logic is :class:`finray.riskxpert.RiskXpert`; this deployment builds one per replica from the
environment (``FINRAY_HOME`` / ``FINRAY_MODEL_STORAGE_URI`` for the artifacts, ``REDIS_URL`` and
``FINRAY_CACHE_TTL_S`` for the cache, ``FINRAY_LLM`` for Gemini, ``FINRAY_STORE`` for chat logs)
and loads the latest published model version once; afterwards only the small ``latest`` pointer
is re-read (at most once a minute), so a newly published version is served — and the cache,
keyed by version, invalidated — without a redeploy.

Methods are sync: Serve runs them in the replica's worker threads, which is what a blocking
Gemini call or a Redis round trip needs. ``generate`` and ``stream`` are generators used through
``handle.options(stream=True).<method>.remote(request)``; they yield **batches** (lists) of
events. The HTTP route asks ``replay`` (a plain call) first and streams ``generate`` only on a
miss, so a cache hit is one handle round trip carrying the whole answer.

Replicas hold no model weights (forecasts are precomputed at training time), so they are cheap:
a quarter CPU each, scaled on ongoing requests — most of a stream's time is waiting on the LLM.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from ray import serve

from finray.config import load_settings
from finray.riskxpert import ForecastRequest, ForecastUnavailable, StreamRequest, load_service
from finray.riskxpert.schemas import StreamDone

log = logging.getLogger(__name__)


@serve.deployment(
    max_ongoing_requests=32,
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 8},
    ray_actor_options={"num_cpus": 0.25},
)
class Forecaster:
    def __init__(self) -> None:
        self._service = load_service(load_settings())
        try:
            version = self._service.version  # load the published artifact once, now
            log.info("Forecaster replica serving model version %s", version)
        except ForecastUnavailable as err:
            # start anyway: requests answer 503 until train_forecaster publishes a version
            log.warning("no published forecaster yet: %s", err)

    def forecast(self, request: dict[str, Any]) -> dict[str, Any]:
        """``ForecastRequest`` fields → ``ForecastResponse`` as JSON-ready dict."""
        return self._service.forecast(ForecastRequest.model_validate(request)).model_dump(mode="json")

    def replay(self, request: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The whole cached answer (events ending in ``done``), or ``None`` on a cache miss.

        A plain call, not a stream: a hit then costs one handle round trip, which is what keeps
        the cached ``/forecast/stream`` fast (a streaming call costs measurably more per request).
        """
        return self._service.replay(StreamRequest.model_validate(request))

    def generate(self, request: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Compute the answer (cache miss): one batch per stage — forecast, summary, scenario, done."""
        yield from self._service.generate(StreamRequest.model_validate(request))

    def stream(self, request: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """``replay`` or ``generate`` in one streaming call (one batch on a hit)."""
        yield from self._service.stream(StreamRequest.model_validate(request))

    def record_many(self, items: list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]]) -> None:
        """Store the chat logs of answers the ingress replayed from its own copy, ``(request,
        events, done)`` each (nothing here is on a user's path: the ingress sends them in batches
        and does not wait)."""
        for request, events, done in items:
            self._service.record(StreamRequest.model_validate(request), events, StreamDone.model_validate(done))

    def version(self) -> str:
        return self._service.version

    def __del__(self) -> None:
        service = getattr(self, "_service", None)
        if service is not None:
            service.close()  # write the chat logs still queued

    def cache_stats(self) -> dict[str, Any]:
        s = self._service.cache.stats
        return {"backend": self._service.cache.name, "hits": s.hits, "misses": s.misses,
                "sets": s.sets, "errors": s.errors}
