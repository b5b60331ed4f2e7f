"""Reranker: personal reranking — dislikes removed, 적합성 원칙 enforced with reasons, likes boosted.

The rule is :func:`finray.retrieval.personal.personal_rerank` (pure, shared with the in-process
advisor). Vectors for the "similar to a liked product" boost are read from the Retriever's
in-memory index through its handle, and only when the customer has liked something.
"""

from __future__ import annotations

from ray import serve
from ray.serve.handle import DeploymentHandle

from finray.retrieval.personal import personal_rerank
from finray.retrieval.rerank import RerankResult
from finray.stores.base import Feedback, ProductHit
from serve_apps.observability import adopt_domain_loggers

HANDLE_TIMEOUT_S = 10.0


@serve.deployment(
    max_ongoing_requests=32,
    autoscaling_config={
        "min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 8,
        "upscale_delay_s": 10, "downscale_delay_s": 300,
    },
    ray_actor_options={"num_cpus": 0.05},
)
class Reranker:
    def __init__(self, retriever: DeploymentHandle) -> None:
        adopt_domain_loggers()
        self._retriever = retriever

    def _vectors(self, product_ids: list[str]) -> dict[str, list[float]]:
        # A sync method runs in a worker thread, where blocking on a handle is allowed.
        return self._retriever.product_vectors.remote(product_ids).result(timeout_s=HANDLE_TIMEOUT_S)

    def rerank(
        self, hits: list[ProductHit], risk_profile: int | None, feedback: list[Feedback], k: int, user_id: str | None,
    ) -> RerankResult:
        return personal_rerank(
            hits, risk_profile=risk_profile, feedback=feedback, k=k, user_id=user_id, vectors_for=self._vectors
        )
