"""Reciprocal rank fusion against hand-computed values."""

from __future__ import annotations

import pytest

from finray.retrieval.fusion import fuse_hits, reciprocal_rank_fusion
from finray.stores.base import ProductHit
from tests.test_store_contract import BOND_FUND, BY_ID, JAPAN_FUND, KB_MYWAY, KB_STAR


def test_rrf_hand_computed() -> None:
    # a: 1/61 + 1/63 ; b: 1/62 + 1/61 ; c: 1/63 ; d: 1/62
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "a"]], k=60)
    assert [i for i, _ in fused] == ["b", "a", "d", "c"]
    expected = {"a": 1 / 61 + 1 / 63, "b": 1 / 62 + 1 / 61, "c": 1 / 63, "d": 1 / 62}
    for item, score in fused:
        assert score == pytest.approx(expected[item], rel=1e-12)


def test_rrf_small_k_and_weights() -> None:
    # k=0: a = 2*(1/1) + 1*(1/3) = 7/3 ; b = 2*(1/2) + 1*(1/1) = 2 ; c = 1*(1/2) = 1/2
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c", "a"]], k=0, weights=[2.0, 1.0])
    assert fused == [
        ("a", pytest.approx(7 / 3)),
        ("b", pytest.approx(2.0)),
        ("c", pytest.approx(0.5)),
    ]


def test_rrf_ties_break_by_best_rank_then_id() -> None:
    # same score and same best rank: the id decides
    fused = reciprocal_rank_fusion([["x", "y"], ["y", "x"]])
    assert [i for i, _ in fused] == ["x", "y"] and fused[0][1] == fused[1][1]
    assert [i for i, _ in reciprocal_rank_fusion([["n"], ["m"]])] == ["m", "n"]
    # k=0 keeps the arithmetic exact: t, u, v score 1/1 and s scores 1/2 + 1/2 — a four-way tie.
    # s reached only rank 2, so it goes last although its id sorts first.
    fused = reciprocal_rank_fusion([["t"], ["u", "s"], ["v", "s"]], k=0)
    assert fused == [("t", 1.0), ("u", 1.0), ("v", 1.0), ("s", 1.0)]


def test_rrf_edge_cases() -> None:
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []
    # a duplicate inside one list counts once, at its best rank
    assert reciprocal_rank_fusion([["a", "a", "b"]]) == [
        ("a", pytest.approx(1 / 61)),
        ("b", pytest.approx(1 / 63)),
    ]
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0])
    with pytest.raises(ValueError, match="k must be"):
        reciprocal_rank_fusion([["a"]], k=-1)


def _hits(ids: list[str], scores: list[float]) -> list[ProductHit]:
    return [
        ProductHit(product=BY_ID[i], score=s, rank=r)
        for r, (i, s) in enumerate(zip(ids, scores, strict=True), start=1)
    ]


def test_fuse_hits_keeps_products_and_renumbers() -> None:
    vector = _hits([KB_STAR, JAPAN_FUND, KB_MYWAY], [0.91, 0.80, 0.75])
    keyword = _hits([KB_MYWAY, KB_STAR, BOND_FUND], [12.0, 7.5, 1.2])
    fused = fuse_hits(vector, keyword, k=60, limit=3)
    # KB_STAR: 1/61 + 1/62 ; KB_MYWAY: 1/63 + 1/61 ; JAPAN_FUND: 1/62 ; BOND_FUND: 1/63
    assert [h.product.product_id for h in fused] == [KB_STAR, KB_MYWAY, JAPAN_FUND]
    assert [h.rank for h in fused] == [1, 2, 3]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1].score == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2].score == pytest.approx(1 / 62)
    assert fused[0].product is BY_ID[KB_STAR]  # the very product objects, no re-fetch


def test_fuse_hits_orders_each_list_by_its_rank_field() -> None:
    vector = list(reversed(_hits([KB_STAR, JAPAN_FUND], [0.9, 0.8])))  # given out of order
    fused = fuse_hits(vector, [], limit=10)
    assert [h.product.product_id for h in fused] == [KB_STAR, JAPAN_FUND]
    assert fuse_hits([], [], limit=5) == [] and fuse_hits(vector, [], limit=0) == []
