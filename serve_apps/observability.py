"""Metrics and logs for the platform team.

Metrics go through ``ray.serve.metrics`` (Ray's metrics API with the Serve tags ``deployment``,
``replica`` and ``application`` added), so they show up in the Ray dashboard and on every node's
Prometheus endpoint next to Serve's own ``ray_serve_*`` series. Each replica creates its own
:class:`ServeMetrics` in ``__init__`` (metric objects must be created inside the replica).

=================================================  ============  =================================
metric (Prometheus name gets a ``ray_`` prefix)    type          tags
=================================================  ============  =================================
``finray_http_requests``                           counter       endpoint, method, status
``finray_http_request_latency_ms``                 histogram     endpoint, method
``finray_chat_first_chunk_ms``                     histogram     generator
``finray_stage_latency_ms``                        histogram     stage (embed, retrieve, rerank,
                                                                 answer, …)
``finray_cache_lookups``                           counter       cache, result (hit | miss)
``finray_answers``                                 counter       kind, generator
``finray_llm_fallbacks``                           counter       kind, reason
``finray_recommended_products``                    counter       product_type
``finray_excluded_products``                       counter       reason (disliked | unsuitable)
``finray_feedback``                                counter       target, rating
=================================================  ============  =================================

Logs: Serve's replica logger (``ray.serve``) stamps every record with the request id (the
incoming ``X-Request-ID`` or one Serve generates) and the route; :func:`adopt_domain_loggers`
sends the domain library's ``finray.*`` loggers through the same handlers so their warnings
(model fallbacks, verification failures) carry the request id too.
"""

from __future__ import annotations

import logging

from ray.serve import metrics

log = logging.getLogger("ray.serve")

LATENCY_BOUNDARIES_MS = [2, 5, 10, 25, 50, 100, 150, 250, 400, 600, 1000, 2500, 5000, 10000, 30000]


class ServeMetrics:
    """Every custom metric; create one per replica (cheap) and use only what the replica needs."""

    def __init__(self) -> None:
        self.requests = metrics.Counter(
            "finray_http_requests", description="HTTP requests by endpoint and status",
            tag_keys=("endpoint", "method", "status"),
        )
        self.latency = metrics.Histogram(
            "finray_http_request_latency_ms", description="HTTP request latency (to the last byte)",
            boundaries=LATENCY_BOUNDARIES_MS, tag_keys=("endpoint", "method"),
        )
        self.first_chunk = metrics.Histogram(
            "finray_chat_first_chunk_ms", description="chat: time to the first streamed answer text",
            boundaries=LATENCY_BOUNDARIES_MS, tag_keys=("generator",),
        )
        self.stage_latency = metrics.Histogram(
            "finray_stage_latency_ms", description="time spent per pipeline stage",
            boundaries=LATENCY_BOUNDARIES_MS, tag_keys=("stage",),
        )
        self.cache = metrics.Counter(
            "finray_cache_lookups", description="cache lookups by cache and result",
            tag_keys=("cache", "result"),
        )
        self.answers = metrics.Counter(
            "finray_answers", description="AI answers by kind and generator", tag_keys=("kind", "generator"),
        )
        self.fallbacks = metrics.Counter(
            "finray_llm_fallbacks", description="answers where the offline generator replaced the model",
            tag_keys=("kind", "reason"),
        )
        self.recommended = metrics.Counter(
            "finray_recommended_products", description="products recommended (cited), by type",
            tag_keys=("product_type",),
        )
        self.excluded = metrics.Counter(
            "finray_excluded_products", description="retrieved products excluded before answering",
            tag_keys=("reason",),
        )
        self.feedback = metrics.Counter(
            "finray_feedback", description="feedback received", tag_keys=("target", "rating"),
        )

    def cache_observer(self, cache: str):
        """A callback for :class:`finray.agent.sources.TTLCache` counting hits and misses."""

        def observe(hit: bool) -> None:
            self.cache.inc(tags={"cache": cache, "result": "hit" if hit else "miss"})

        return observe

    def stages(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stage_latency.observe(ms, tags={"stage": stage})


def adopt_domain_loggers() -> None:
    """Route ``finray.*`` records through the Serve replica logger (request id, route, file)."""
    serve_logger = logging.getLogger("ray.serve")
    domain = logging.getLogger("finray")
    domain.handlers = list(serve_logger.handlers)
    domain.setLevel(logging.INFO)
    domain.propagate = False
