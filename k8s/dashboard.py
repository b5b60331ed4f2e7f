"""The Grafana dashboard for finray's Serve app, built from the metric names it expects.

Two kinds of series, both scraped from Ray's metrics port by the PodMonitor:

* **Ray Serve built-ins** (``ray_serve_*``): per-route HTTP request counts, errors and latency
  histograms from the proxy; per-deployment processing latency, replica health and queue depth.
* **finray's own metrics** (``ray_finray_*``), declared in ``serve_apps/observability.py`` with
  ``ray.serve.metrics`` (Serve adds the ``deployment``/``replica``/``application`` tags). Ray
  prefixes every application metric with ``ray_`` and exports a Counter with a ``_total`` suffix
  and a Histogram as ``_bucket``/``_sum``/``_count``. :data:`FINRAY_METRICS` is the contract
  with the Serve code — names, types and tag keys the dashboard queries — and
  ``tests/test_k8s_manifests.py`` fails when the two drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

APPLICATION = "finray"
_SEL = 'namespace=~"$namespace", application=~"$application"'


@dataclass(frozen=True)
class ExpectedMetric:
    name: str  # as declared in code: ray.util.metrics.Counter("finray_cache_requests", ...)
    kind: str  # Counter | Histogram | Gauge
    tag_keys: tuple[str, ...]
    meaning: str

    @property
    def exported(self) -> str:
        """The Prometheus series the dashboard queries."""
        suffix = {"Counter": "_total", "Histogram": "_bucket", "Gauge": ""}[self.kind]
        return f"ray_{self.name}{suffix}"


FINRAY_METRICS: tuple[ExpectedMetric, ...] = (
    ExpectedMetric("finray_http_requests", "Counter", ("endpoint", "method", "status"),
                   "HTTP requests by endpoint and status, counted by the ingress"),
    ExpectedMetric("finray_http_request_latency_ms", "Histogram", ("endpoint", "method"),
                   "HTTP latency to the last byte (streams included), by endpoint"),
    ExpectedMetric("finray_chat_first_chunk_ms", "Histogram", ("generator",),
                   "chat: time to the first streamed answer text"),
    ExpectedMetric("finray_stage_latency_ms", "Histogram", ("stage",),
                   "time per pipeline stage (embed, retrieve, rerank, answer, ...)"),
    ExpectedMetric("finray_cache_lookups", "Counter", ("cache", "result"),
                   "cache lookups by cache and result (hit | miss)"),
    ExpectedMetric("finray_answers", "Counter", ("kind", "generator"),
                   "AI answers by kind and generator (model or offline)"),
    ExpectedMetric("finray_llm_fallbacks", "Counter", ("kind", "reason"),
                   "answers where the offline generator replaced the model"),
    ExpectedMetric("finray_recommended_products", "Counter", ("product_type",),
                   "products recommended (cited), by type"),
    ExpectedMetric("finray_excluded_products", "Counter", ("reason",),
                   "retrieved products excluded before answering (disliked | unsuitable)"),
    ExpectedMetric("finray_feedback", "Counter", ("target", "rating"),
                   "feedback received"),
)

#: Tags Ray Serve adds to every metric declared through ``ray.serve.metrics``.
SERVE_TAGS: tuple[str, ...] = ("deployment", "replica", "application")

#: Ray Serve's own series the dashboard uses (names as exported by Ray 2.60).
SERVE_METRICS: tuple[str, ...] = (
    "ray_serve_num_http_requests_total",
    "ray_serve_num_http_error_requests_total",
    "ray_serve_http_request_latency_ms_bucket",
    "ray_serve_deployment_processing_latency_ms_bucket",
    "ray_serve_deployment_replica_healthy",
    "ray_serve_replica_processing_queries",
)


def _panel(pid: int, title: str, exprs: list[tuple[str, str]], unit: str, x: int, y: int,
           description: str = "") -> dict[str, Any]:
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom"}},
        "targets": [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(exprs)],
    }


def _quantiles(metric: str, by: str, sel: str) -> list[tuple[str, str]]:
    return [
        (f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}{{{sel}}}[5m])))", f"p{int(q * 100)} {{{{{by}}}}}")
        for q in (0.5, 0.95, 0.99)
    ]


def _rate(metric: str, by: str, extra: str = "") -> str:
    sel = f"{_SEL}, {extra}" if extra else _SEL
    return f"sum by ({by}) (rate({metric}{{{sel}}}[5m]))"


def dashboard() -> dict[str, Any]:
    """The dashboard JSON (Grafana schema 39), datasource and namespace chosen in the UI."""
    m = {x.name: x.exported for x in FINRAY_METRICS}
    rows: list[tuple[str, list[tuple[str, str]], str, str]] = [
        # --- Ray Serve's own series -------------------------------------------------------------
        ("Serve: HTTP requests by route and status",
         [(_rate("ray_serve_num_http_requests_total", "route, status_code"), "{{route}} {{status_code}}")],
         "reqps", "Serve proxy: every request to the finray application"),
        ("Serve: HTTP errors by route",
         [(_rate("ray_serve_num_http_error_requests_total", "route, error_code"), "{{route}} {{error_code}}")],
         "reqps", "responses with status >= 400, at the proxy"),
        ("Serve: HTTP latency by route (p50/p95/p99)",
         _quantiles("ray_serve_http_request_latency_ms_bucket", "route", _SEL), "ms", "end to end, at the proxy"),
        ("Serve: deployment processing latency (p95)",
         [(f"histogram_quantile(0.95, sum by (le, deployment) "
           f"(rate(ray_serve_deployment_processing_latency_ms_bucket{{{_SEL}}}[5m])))", "{{deployment}}")],
         "ms", "time inside each deployment's replicas"),
        ("Serve: healthy replicas by deployment",
         [(f"sum by (deployment) (ray_serve_deployment_replica_healthy{{{_SEL}}})", "{{deployment}}")],
         "short", "autoscaling and failures at a glance"),
        ("Serve: requests in flight by deployment",
         [(f"sum by (deployment) (ray_serve_replica_processing_queries{{{_SEL}}})", "{{deployment}}")],
         "short", "compare with max_ongoing_requests in serve_config.yaml"),
        # --- finray's own series (serve_apps/observability.py) -----------------------------------
        ("finray: requests by endpoint and status",
         [(_rate(m["finray_http_requests"], "endpoint, status"), "{{endpoint}} {{status}}")],
         "reqps", "finray_http_requests"),
        ("finray: latency by endpoint (p50/p95/p99)",
         _quantiles(m["finray_http_request_latency_ms"], "endpoint", _SEL), "ms",
         "finray_http_request_latency_ms: to the last byte, streams included"),
        ("finray: chat time to first chunk (p50/p95/p99)",
         _quantiles(m["finray_chat_first_chunk_ms"], "generator", _SEL), "ms", "finray_chat_first_chunk_ms"),
        ("finray: stage latency (p95)",
         [(f"histogram_quantile(0.95, sum by (le, stage) (rate({m['finray_stage_latency_ms']}{{{_SEL}}}[5m])))",
           "{{stage}}")], "ms", "finray_stage_latency_ms: embed, retrieve, rerank, answer, ..."),
        ("finray: cache hit ratio",
         [(_rate(m["finray_cache_lookups"], "cache", 'result="hit"') + " / " + _rate(m["finray_cache_lookups"], "cache"),
           "{{cache}}")], "percentunit", "finray_cache_lookups: hits / lookups"),
        ("finray: AI answers by kind and generator",
         [(_rate(m["finray_answers"], "kind, generator"), "{{kind}} {{generator}}")], "ops", "finray_answers"),
        ("finray: LLM fallbacks to the offline generator",
         [(_rate(m["finray_llm_fallbacks"], "kind, reason"), "{{kind}} {{reason}}")], "ops",
         "finray_llm_fallbacks: should be near zero in prod; alert on it"),
        ("finray: recommended products by type",
         [(_rate(m["finray_recommended_products"], "product_type"), "{{product_type}}")], "ops",
         "finray_recommended_products"),
        ("finray: products excluded before answering",
         [(_rate(m["finray_excluded_products"], "reason"), "{{reason}}")], "ops",
         "finray_excluded_products: disliked | unsuitable (적합성 원칙)"),
        ("finray: feedback by target and rating",
         [(_rate(m["finray_feedback"], "target, rating"), "{{target}} {{rating}}")], "ops", "finray_feedback"),
    ]
    panels = [_panel(i + 1, title, exprs, unit, x=(i % 2) * 12, y=(i // 2) * 8, description=desc)
              for i, (title, exprs, unit, desc) in enumerate(rows)]
    return {
        "title": "finray — Serve",
        "uid": "finray-serve",
        "tags": ["finray", "ray-serve"],
        "timezone": "Asia/Seoul",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
            {"name": "namespace", "type": "query", "label": "namespace", "multi": True, "includeAll": True,
             "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "query": "label_values(ray_serve_num_http_requests_total, namespace)", "refresh": 2},
            {"name": "application", "type": "custom", "label": "application", "query": APPLICATION,
             "current": {"text": APPLICATION, "value": APPLICATION}},
        ]},
        "panels": panels,
    }
