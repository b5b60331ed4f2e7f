"""Personal reranking of retrieved products: feedback, suitability and taste, in one pure function.

Retrieval (:mod:`finray.retrieval.fusion`) ranks products by how well they match the query or
persona; this step applies what retrieval cannot know:

1. **Dislikes are final.** A product the customer marked "관심 없음" never comes back, whatever
   its score (the newest feedback per product wins, so a later "like" lifts an old dislike).
2. **Suitability is a rule, not a weight.** Products the 적합성 원칙 forbids
   (:mod:`finray.retrieval.suitability`) are removed with the reason, never just demoted: a
   demoted unsuitable fund could still be recommended when the list is short.
3. **Taste is a bounded nudge.** Liked products get a fixed boost; products whose vectors are
   close to a liked product's (cosine > threshold) get a boost growing linearly with the
   similarity above the threshold, capped. Boosts are on the scale of the *normalized* retrieval
   score (top hit = 1.0), so they reorder near-ties without letting taste bury relevance.

Ordering is deterministic: final score, then the retrieval rank, then ``product_id``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from finray.products.model import Product
from finray.retrieval.suitability import check
from finray.stores.base import Feedback, ProductHit

#: Added to the normalized score of a product the customer liked.
LIKED_BOOST = 0.3
#: Cosine similarity to a liked product above which the "similar" boost starts.
SIMILARITY_THRESHOLD = 0.8
#: The largest "similar to a liked product" boost (reached at cosine similarity 1.0).
MAX_SIMILAR_BOOST = 0.15

DISLIKED_REASON = "이전에 '관심 없음'으로 표시한 상품"


class Boost(BaseModel):
    """One adjustment applied to a product's score, with a Korean explanation."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["liked", "similar_to_liked"]
    value: float
    detail: str


class RankedProduct(BaseModel):
    """A product kept after reranking."""

    model_config = ConfigDict(frozen=True)

    product: Product
    score: float  # final: normalized retrieval score + boosts
    base_score: float  # the retrieval (fusion) score as it came in
    retrieval_rank: int
    boosts: tuple[Boost, ...] = ()
    alternative_note: str | None = None  # the hit's note: a nearest alternative, not a match
    suitability_note: str


class Excluded(BaseModel):
    """A retrieved product that was removed, and why (shown to the customer)."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    name: str
    kind: Literal["disliked", "unsuitable"]
    reason: str


class RerankResult(BaseModel):
    ranked: list[RankedProduct] = Field(default_factory=list)
    excluded: list[Excluded] = Field(default_factory=list)


def product_preferences(feedback: Sequence[Feedback], user_id: str | None = None) -> dict[str, str]:
    """``product_id -> "like" | "dislike"`` from product feedback, the newest rating winning.

    Sorted by ``created_at`` here rather than trusting the store's order; equal timestamps keep
    the input order (stores return newest first). Answer feedback is ignored.
    """
    rows = [
        f for f in feedback if f.target == "product" and (user_id is None or f.user_id == user_id)
    ]
    out: dict[str, str] = {}
    for f in sorted(rows, key=lambda f: f.created_at, reverse=True):
        out.setdefault(f.target_id, f.rating)
    return out


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0.0 for empty, zero or mismatched vectors (no evidence, no boost)."""
    if len(a) != len(b) or not a:
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return dot / (na * nb)


def similar_boost(
    similarity: float, threshold: float = SIMILARITY_THRESHOLD, cap: float = MAX_SIMILAR_BOOST
) -> float:
    """0 at or below ``threshold``, rising linearly to ``cap`` at similarity 1.0."""
    if similarity <= threshold or threshold >= 1.0:
        return 0.0
    return min(cap, cap * (similarity - threshold) / (1.0 - threshold))


def rerank(
    hits: Sequence[ProductHit],
    *,
    risk_profile: int | None,
    feedback: Sequence[Feedback],
    liked_vectors: Mapping[str, Sequence[float]],
    hit_vectors: Mapping[str, Sequence[float]] | None,
    k: int,
    user_id: str | None = None,
    liked_names: Mapping[str, str] | None = None,
) -> RerankResult:
    """Drop disliked and unsuitable hits, boost liked and liked-alike ones, keep the best ``k``.

    ``feedback`` is the customer's feedback (filtered to ``user_id`` when given);
    ``liked_vectors`` maps liked product ids to their vectors and ``hit_vectors`` the hits' own
    vectors (``None``: no similarity boost, e.g. when vectors could not be read). ``liked_names``
    lets the boost explanation name the liked product it resembles. A hit repeated in ``hits``
    counts once, at its first occurrence.
    """
    prefs = product_preferences(feedback, user_id)
    liked = {pid for pid, rating in prefs.items() if rating == "like"}
    names = dict(liked_names or {})

    unique: list[ProductHit] = []
    seen: set[str] = set()
    for h in hits:
        if h.product.product_id not in seen:
            seen.add(h.product.product_id)
            unique.append(h)

    top = max((h.score for h in unique), default=0.0)
    kept: list[RankedProduct] = []
    excluded: list[Excluded] = []
    for h in unique:
        p = h.product
        if prefs.get(p.product_id) == "dislike":
            excluded.append(
                Excluded(product_id=p.product_id, name=p.name, kind="disliked", reason=DISLIKED_REASON)
            )
            continue
        verdict = check(p, risk_profile)
        if not verdict.allowed:
            excluded.append(
                Excluded(product_id=p.product_id, name=p.name, kind="unsuitable", reason=verdict.note)
            )
            continue

        boosts: list[Boost] = []
        if p.product_id in liked:
            boosts.append(Boost(kind="liked", value=LIKED_BOOST, detail="고객님이 관심 상품으로 표시한 상품"))
        vec = (hit_vectors or {}).get(p.product_id)
        if vec is not None:
            best_sim, best_id = 0.0, None
            for lid in sorted(liked_vectors):
                if lid == p.product_id:
                    continue  # a product is not "similar to a liked product" because of itself
                sim = cosine(vec, liked_vectors[lid])
                if sim > best_sim:
                    best_sim, best_id = sim, lid
            value = similar_boost(best_sim)
            if value > 0.0 and best_id is not None:
                like_name = names.get(best_id)
                what = f"관심 상품 「{like_name}」" if like_name else "관심 표시한 상품"
                boosts.append(
                    Boost(kind="similar_to_liked", value=round(value, 6),
                          detail=f"{what}의 유사 상품(유사도 {best_sim:.2f})")
                )
        normalized = h.score / top if top > 0 else 0.0
        kept.append(
            RankedProduct(
                product=p,
                score=round(normalized + sum(b.value for b in boosts), 9),
                base_score=h.score,
                retrieval_rank=h.rank,
                boosts=tuple(boosts),
                suitability_note=verdict.note,
                alternative_note=h.note,
            )
        )

    kept.sort(key=lambda r: (-r.score, r.retrieval_rank, r.product.product_id))
    return RerankResult(ranked=kept[: max(k, 0)], excluded=excluded)
