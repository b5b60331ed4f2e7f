"""Reciprocal rank fusion (RRF) of ranked lists: hybrid ranking done the same on every backend.

Vector similarity and BM25 scores live on unrelated scales (and Atlas and LanceDB scale them
differently), so fusing *ranks* instead of scores is what keeps hybrid results comparable across
backends. RRF (Cormack, Clarke & Büttcher, SIGIR 2009) scores an item
``sum_i w_i / (k + rank_i)`` over the lists that contain it, with 1-based ranks; ``k = 60``
damps the advantage of the very first ranks, as in the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

from finray.stores.base import ProductHit


def reciprocal_rank_fusion(
    ranked_lists: Sequence[Sequence[str]],
    k: int = 60,
    weights: Sequence[float] | None = None,
) -> list[tuple[str, float]]:
    """Fuse lists of ids (best first) into ``(id, score)`` pairs, best first.

    Ties are broken by the best rank the id reached in any list, then by id, so the order is
    deterministic whatever order the lists come in. An id repeated within one list counts once,
    at its best rank.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if weights is None:
        weights = [1.0] * len(ranked_lists)
    if len(weights) != len(ranked_lists):
        raise ValueError(f"{len(weights)} weights for {len(ranked_lists)} ranked lists")
    scores: dict[str, float] = {}
    best_rank: dict[str, int] = {}
    for ids, weight in zip(ranked_lists, weights, strict=True):
        seen: set[str] = set()
        for rank, item in enumerate(ids, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            best_rank[item] = min(best_rank.get(item, rank), rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], best_rank[kv[0]], kv[0]))


def fuse_hits(
    vector_hits: Sequence[ProductHit],
    keyword_hits: Sequence[ProductHit],
    k: int = 60,
    limit: int = 10,
) -> list[ProductHit]:
    """RRF of a vector and a keyword hit list; the returned hits carry the fused score and rank.

    Each list is ordered by its hits' ``rank`` first (positions in that order are the RRF
    ranks), so a list that was shuffled or filtered after retrieval still fuses by retrieval order.
    The fused hits keep the product objects; no second lookup is needed.
    """
    products = {h.product.product_id: h.product for h in (*vector_hits, *keyword_hits)}
    lists = [
        [h.product.product_id for h in sorted(hits, key=lambda h: h.rank)]
        for hits in (vector_hits, keyword_hits)
    ]
    fused = reciprocal_rank_fusion(lists, k=k)[: max(limit, 0)]
    return [
        ProductHit(product=products[pid], score=score, rank=rank)
        for rank, (pid, score) in enumerate(fused, start=1)
    ]
