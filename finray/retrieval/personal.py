"""Personal reranking with its data: fetch the vectors the taste boost needs, then rerank.

:func:`finray.retrieval.rerank.rerank` is pure and wants the liked products' vectors and the
hits' vectors handed in. This step gathers them, so the advisor graph (in-process) and the
Reranker deployment (on Serve) run exactly the same code:

* vectors are read only when the customer liked something (no like, no similarity boost, no read);
* a failure to read vectors only disables the similarity boost — a boost is never worth failing
  the answer, while dislikes and suitability, which need no vectors, still apply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from finray.retrieval.rerank import RerankResult, product_preferences, rerank
from finray.stores.base import Feedback, ProductHit

log = logging.getLogger(__name__)

#: ``vectors_for(product_ids)`` → stored vectors of those products (missing ids left out).
VectorsFor = Callable[[list[str]], dict[str, list[float]]]


def personal_rerank(
    hits: Sequence[ProductHit],
    *,
    risk_profile: int | None,
    feedback: Sequence[Feedback],
    k: int,
    user_id: str | None,
    vectors_for: VectorsFor,
) -> RerankResult:
    """Rerank ``hits`` for one customer: dislikes out, unsuitable out (with reasons), likes up."""
    liked = [pid for pid, r in product_preferences(feedback, user_id).items() if r == "like"]
    ids = list(dict.fromkeys([*liked, *(h.product.product_id for h in hits)]))
    vectors: dict[str, list[float]] | None
    try:
        vectors = dict(vectors_for(ids)) if ids and liked else {}
    except Exception as err:  # noqa: BLE001 - a boost is not worth failing the answer
        log.warning("product vectors unavailable, similarity boost skipped: %s", err)
        vectors = None
    names = {h.product.product_id: h.product.name for h in hits}
    return rerank(
        hits,
        risk_profile=risk_profile,
        feedback=feedback,
        liked_vectors={pid: vectors[pid] for pid in liked if vectors and pid in vectors},
        hit_vectors=vectors,
        k=k,
        user_id=user_id,
        liked_names=names,
    )
