"""Reranking: dislikes and unsuitable products removed with reasons, likes and look-alikes boosted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from finray.retrieval.rerank import (
    DISLIKED_REASON,
    LIKED_BOOST,
    MAX_SIMILAR_BOOST,
    SIMILARITY_THRESHOLD,
    cosine,
    product_preferences,
    rerank,
    similar_boost,
)
from finray.stores.base import Feedback, ProductHit
from tests.test_suitability import (
    AB_HIGH_YIELD,
    E_GREEN,
    KB_MMF,
    KB_STAR,
    KB_VALUE_30,
    KCGI_CHINA,
    MIZ,
    WON_PLUS,
    WOORI_SUPER,
)

T0 = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)


def hits(*products) -> list[ProductHit]:
    """RRF-like scores: 1/(60+rank)."""
    return [ProductHit(product=p, score=1 / (60 + i), rank=i) for i, p in enumerate(products, start=1)]


def fb(product_id: str, rating: str, minutes: int = 0, user: str = "U0000001", target: str = "product") -> Feedback:
    return Feedback(
        feedback_id=f"f-{product_id}-{minutes}-{user}",
        user_id=user,
        target=target,  # type: ignore[arg-type]
        target_id=product_id,
        rating=rating,  # type: ignore[arg-type]
        created_at=T0 + timedelta(minutes=minutes),
    )


def ids(result) -> list[str]:
    return [r.product.product_id for r in result.ranked]


def test_plain_order_kept_without_feedback() -> None:
    res = rerank(hits(E_GREEN, MIZ, WON_PLUS), risk_profile=3, feedback=[], liked_vectors={}, hit_vectors=None, k=5)
    assert ids(res) == [E_GREEN.product_id, MIZ.product_id, WON_PLUS.product_id]
    top = res.ranked[0]
    assert top.score == pytest.approx(1.0) and top.base_score == pytest.approx(1 / 61)
    assert top.boosts == () and "예금자보호" in top.suitability_note
    assert res.excluded == []


def test_disliked_removed_with_reason() -> None:
    res = rerank(
        hits(E_GREEN, MIZ, WON_PLUS),
        risk_profile=3,
        feedback=[fb(MIZ.product_id, "dislike")],
        liked_vectors={},
        hit_vectors=None,
        k=5,
    )
    assert MIZ.product_id not in ids(res)
    assert [(e.product_id, e.kind, e.reason) for e in res.excluded] == [
        (MIZ.product_id, "disliked", DISLIKED_REASON)
    ]
    assert DISLIKED_REASON == "이전에 '관심 없음'으로 표시한 상품"


def test_newest_feedback_wins_and_other_users_ignored() -> None:
    feedback = [
        fb(MIZ.product_id, "like", minutes=5),  # newer like lifts the older dislike
        fb(MIZ.product_id, "dislike", minutes=1),
        fb(E_GREEN.product_id, "dislike", user="U0000002"),  # someone else's
        fb(WON_PLUS.product_id, "dislike", target="answer"),  # answer feedback: not a product
    ]
    prefs = product_preferences(feedback, "U0000001")
    assert prefs == {MIZ.product_id: "like"}
    res = rerank(hits(E_GREEN, MIZ, WON_PLUS), risk_profile=3, feedback=feedback, liked_vectors={},
                 hit_vectors=None, k=5, user_id="U0000001")
    assert set(ids(res)) == {E_GREEN.product_id, MIZ.product_id, WON_PLUS.product_id}


def test_unsuitable_removed_with_suitability_note() -> None:
    res = rerank(hits(KCGI_CHINA, KB_VALUE_30, AB_HIGH_YIELD, KB_MMF), risk_profile=2, feedback=[],
                 liked_vectors={}, hit_vectors=None, k=5)
    assert ids(res) == [AB_HIGH_YIELD.product_id, KB_MMF.product_id]
    reasons = {e.product_id: e for e in res.excluded}
    assert reasons[KCGI_CHINA.product_id].kind == "unsuitable"
    assert reasons[KCGI_CHINA.product_id].reason == (
        "고객님의 투자성향(안정추구형)에는 5~6등급 상품까지 권유할 수 있어, 2등급(높은위험) 펀드는 제외했습니다."
    )
    assert reasons[KB_VALUE_30.product_id].kind == "unsuitable"


def test_dislike_reported_before_suitability() -> None:
    res = rerank(hits(KCGI_CHINA), risk_profile=1, feedback=[fb(KCGI_CHINA.product_id, "dislike")],
                 liked_vectors={}, hit_vectors=None, k=5)
    assert [e.kind for e in res.excluded] == ["disliked"]


def test_liked_product_boosted_over_better_retrieval_score() -> None:
    products = (E_GREEN, MIZ, WON_PLUS, KB_STAR)
    res = rerank(hits(*products), risk_profile=3, feedback=[fb(KB_STAR.product_id, "like")],
                 liked_vectors={}, hit_vectors=None, k=5)
    assert ids(res)[0] == KB_STAR.product_id
    top = res.ranked[0]
    assert [b.kind for b in top.boosts] == ["liked"]
    assert top.score == pytest.approx((1 / 64) / (1 / 61) + LIKED_BOOST)


def test_similar_to_liked_boosted_and_bounded() -> None:
    # WOORI_SUPER (liked, not retrieved) looks like MIZ; KB_STAR is orthogonal to it.
    liked_vec = [1.0, 0.0, 0.0]
    vectors = {
        E_GREEN.product_id: [0.0, 1.0, 0.0],
        MIZ.product_id: [0.99, 0.141, 0.0],  # cosine ≈ 0.99 > threshold
        KB_STAR.product_id: [0.0, 0.0, 1.0],
    }
    res = rerank(
        hits(E_GREEN, KB_STAR, MIZ),
        risk_profile=3,
        feedback=[fb(WOORI_SUPER.product_id, "like")],
        liked_vectors={WOORI_SUPER.product_id: liked_vec},
        hit_vectors=vectors,
        k=5,
        liked_names={WOORI_SUPER.product_id: WOORI_SUPER.name},
    )
    assert ids(res)[0] == MIZ.product_id
    boost = res.ranked[0].boosts[0]
    assert boost.kind == "similar_to_liked"
    assert 0 < boost.value <= MAX_SIMILAR_BOOST
    assert "우리SUPER주거래적금" in boost.detail
    assert all(r.boosts == () for r in res.ranked[1:])


def test_similarity_below_threshold_gives_nothing_and_self_is_not_similar() -> None:
    assert similar_boost(SIMILARITY_THRESHOLD) == 0.0
    assert similar_boost(1.0) == pytest.approx(MAX_SIMILAR_BOOST)
    assert 0 < similar_boost(0.9) < MAX_SIMILAR_BOOST
    vec = [0.3, 0.4, 0.5]
    res = rerank(hits(E_GREEN, MIZ), risk_profile=3, feedback=[fb(MIZ.product_id, "like")],
                 liked_vectors={MIZ.product_id: vec}, hit_vectors={MIZ.product_id: vec, E_GREEN.product_id: [1, 0, 0]},
                 k=5)
    miz = next(r for r in res.ranked if r.product.product_id == MIZ.product_id)
    assert [b.kind for b in miz.boosts] == ["liked"]  # not also "similar to itself"


def test_no_vectors_no_similarity_boost() -> None:
    res = rerank(hits(E_GREEN, MIZ), risk_profile=3, feedback=[fb(WOORI_SUPER.product_id, "like")],
                 liked_vectors={WOORI_SUPER.product_id: [1.0, 0.0]}, hit_vectors=None, k=5)
    assert all(r.boosts == () for r in res.ranked)


def test_deterministic_ties_k_and_duplicates() -> None:
    tied = [ProductHit(product=p, score=0.5, rank=r) for p, r in ((WON_PLUS, 2), (E_GREEN, 1), (MIZ, 2))]
    dup = [*tied, ProductHit(product=E_GREEN, score=0.9, rank=7)]
    first = rerank(dup, risk_profile=1, feedback=[], liked_vectors={}, hit_vectors=None, k=2)
    again = rerank(list(reversed(tied)) + [dup[-1]], risk_profile=1, feedback=[], liked_vectors={},
                   hit_vectors=None, k=2)
    # ties: retrieval rank, then product_id; duplicates count once (first occurrence)
    assert ids(first) == [E_GREEN.product_id, WON_PLUS.product_id]  # "…0010001…" < "…0010019…"
    assert ids(again) == ids(first)
    assert rerank(dup, risk_profile=1, feedback=[], liked_vectors={}, hit_vectors=None, k=0).ranked == []


def test_cosine_edge_cases() -> None:
    assert cosine([1, 0], [1, 0]) == pytest.approx(1.0)
    assert cosine([1, 0], [0, 1]) == 0.0
    assert cosine([], []) == 0.0
    assert cosine([0, 0], [1, 1]) == 0.0
    assert cosine([1, 2], [1, 2, 3]) == 0.0
