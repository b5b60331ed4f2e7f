"""Constraint-faithful retrieval, objective order, alternatives, and answers that address the question.

Runs on the real bundled catalogue; vectors are seeded random (what is tested is filtering and
ordering, which do not depend on the embedder). Expected results are derived by rule from the
catalogue in each test, never listed by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from finray.advice.constraints import headline_rate, violations
from finray.advice.interest import deposit_interest, render_quote, quote
from finray.advice.pipeline import IntentSearch
from finray.agent.offline import offline_answer
from finray.agent.verify import verify_answer
from finray.products.model import ProductType
from finray.products.snapshot import load_snapshot
from finray.retrieval.memory_index import CatalogueIndex
from finray.retrieval.rerank import RankedProduct
from finray.stores.base import IndexInfo, ProductFilters

D, S = ProductType.DEPOSIT, ProductType.SAVING
DIM = 16


@pytest.fixture(scope="module")
def search() -> IntentSearch:
    products = [p for r in load_snapshot().values() for p in r.products]
    vectors = np.random.default_rng(7).normal(size=(len(products), DIM)).tolist()
    return IntentSearch(CatalogueIndex.build(IndexInfo(embedder="test", dim=DIM), products, vectors))


def _ask(search: IntentSearch, question: str, k: int = 5, mode: str = "hybrid"):
    intent = search.understand(question)
    vector = np.random.default_rng(1).normal(size=DIM).tolist()
    return intent, search.search(question, vector, "test", intent, ProductFilters(), k, mode)


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_highest_rate_question_answers_the_best_rate_first(search: IntentSearch, mode: str) -> None:
    intent, found = _ask(search, "12개월 정기예금 중 금리가 가장 높은 상품 추천해 주세요", mode=mode)
    eligible = [p for p in search.index.products if p.product_type is D and 12 in p.terms and p.is_active]
    best = sorted((headline_rate(p, 12) for p in eligible), reverse=True)[:3]
    got = [headline_rate(h.product, 12) for h in found.hits[:3]]
    if mode != "keyword":  # keyword mode ranks only products sharing a token with the question
        assert got == best
    assert all(h.product.product_type is D and 12 in h.product.terms for h in found.hits)
    assert got == sorted(got, reverse=True)


def test_term_is_binding(search: IntentSearch) -> None:
    _, found = _ask(search, "6개월짜리 예금 중에 이자 제일 많이 주는 거")
    assert found.hits and all(6 in h.product.terms for h in found.hits) and not found.notices


def test_provider_is_binding_and_never_a_lookalike(search: IntentSearch) -> None:
    intent, found = _ask(search, "우리은행 정기예금 추천해 주세요")
    assert intent.providers == ["우리은행"]
    assert found.hits and {h.product.provider for h in found.hits} == {"우리은행"}


def test_every_hit_meets_every_constraint(search: IntentSearch) -> None:
    for q in ("국민은행 적금 중에 1년짜리", "청년 전용 적금 있어요?", "매달 50만원씩 2년 동안 모을 적금 추천",
              "저축은행 예금 중 금리 높은 거", "인터넷은행 적금"):
        intent, found = _ask(search, q)
        assert found.hits, q
        for h in found.hits:
            assert h.note is not None or not violations(h.product, intent, search.directory), (q, h.product.name)


def test_type_level_wishes_route_to_their_types(search: IntentSearch) -> None:
    _, loans = _ask(search, "급하게 돈이 필요해서 빌리고 싶어요", k=10)
    assert loans.hits and all(h.product.product_type is ProductType.CREDIT_LOAN for h in loans.hits)
    _, safe = _ask(search, "원금 손실 위험이 거의 없는 안전한 상품", k=10)
    assert safe.hits and all(h.product.product_type in (D, S) for h in safe.hits)


def test_nothing_satisfies_gives_marked_nearest_alternatives(search: IntentSearch) -> None:
    offered = {t for p in search.index.products if p.provider == "우리은행" and p.product_type is D for t in p.terms}
    missing = next(t for t in range(2, 60) if t not in offered)
    intent, found = _ask(search, f"우리은행 {missing}개월 정기예금")
    assert intent.term_months == missing
    assert found.notices and f"{missing}개월 상품이 없어" in found.notices[0]
    assert found.hits and all(h.note == found.notices[0] for h in found.hits)
    assert all(h.product.provider == "우리은행" for h in found.hits)  # only the term was relaxed


def _ranked(products):
    return [RankedProduct(product=p, score=1.0, base_score=1.0, retrieval_rank=i, suitability_note="") for i, p in enumerate(products, 1)]


def test_rate_answer_names_the_top_product_and_verifies(search: IntentSearch) -> None:
    q = "12개월 정기예금 중 금리가 가장 높은 상품 추천해 주세요"
    intent, found = _ask(search, q, k=3)
    ranked = _ranked([h.product for h in found.hits])
    text, items = offline_answer(ranked, None, q, [], intent=intent)
    top = found.hits[0].product
    assert "금리가 가장 높은 상품은" in text and " ".join(top.name.split()) in text.split("\n")[0]
    v = verify_answer(text, items, [r.product for r in ranked], context=q, require_items=True, intent=intent)
    assert v.ok, v.problems


def test_amount_answer_computes_interest_and_verifies(search: IntentSearch) -> None:
    q = "3천만원을 12개월 정기예금에 맡기면 이자가 얼마예요?"
    intent, found = _ask(search, q, k=3)
    ranked = _ranked([h.product for h in found.hits])
    text, items = offline_answer(ranked, None, q, [], intent=intent)
    first = quote(found.hits[0].product, 30_000_000, 12)
    assert first is not None and render_quote(first) in text and "계산값" in text
    assert verify_answer(text, items, [r.product for r in ranked], context=q, intent=intent).ok


def test_verifier_rejects_a_rate_attributed_to_the_wrong_term(search: IntentSearch) -> None:
    p = next(p for p in search.index.products
             if p.product_type is D and {6, 12} <= set(p.terms)
             and headline_rate(p, 6) != headline_rate(p, 12))
    name = " ".join(p.name.split())
    wrong = f"「{name}」는 12개월 기준 최고 연 {headline_rate(p, 6):.2f}%입니다."
    right = f"「{name}」는 12개월 기준 최고 연 {headline_rate(p, 12):.2f}%입니다."
    assert not verify_answer(wrong, [], [p]).ok
    assert verify_answer(right, [], [p]).ok


def test_verifier_rejects_a_wrong_computed_interest(search: IntentSearch) -> None:
    p = next(p for p in search.index.products if p.product_type is D and 12 in p.terms)
    q = quote(p, 10_000_000, 12)
    assert q is not None
    good = f"「{' '.join(p.name.split())}」 {render_quote(q)}"
    bad = good.replace(f"{q.post_tax_krw:,}원", f"{q.post_tax_krw + 1000:,}원")
    assert verify_answer(good, [], [p]).ok
    assert not verify_answer(bad, [], [p]).ok
    assert q.pre_tax_krw == deposit_interest(10_000_000, q.rate_pct, 12, q.method)


def test_question_numbers_are_no_evidence_for_a_product_figure(search: IntentSearch) -> None:
    p = next(p for p in search.index.products if p.product_type is D and 12 in p.terms)
    claim = 9.87
    assert all(abs((r.max_rate or 0) - claim) > 0.001 and abs((r.base_rate or 0) - claim) > 0.001 for r in p.rates)
    text = f"「{' '.join(p.name.split())}」의 금리는 연 {claim}%입니다."
    assert not verify_answer(text, [], [p], context=f"금리 {claim}% 이상인 예금 있나요?").ok


def test_missing_annuity_return_is_written_as_no_information() -> None:
    products = [p for r in load_snapshot().values() for p in r.products]
    silent = next(p for p in products if p.product_type is ProductType.ANNUITY
                  and p.recent_returns and all(v == 0.0 for v in p.recent_returns.values()))
    text, items = offline_answer(_ranked([silent]), None, "연금저축 추천")
    assert "0.00%" not in text and "정보 없음" in text
    assert "정보 없음" in items[0].key_numbers.values()


def test_products_without_a_current_disclosure_are_named_as_such(search: IntentSearch) -> None:
    current = next(p for p in search.index.products if p.product_type is D and p.disclosure_month)
    undated = next(p for p in search.index.products if p.product_type is D and not p.disclosure_month)
    text, _ = offline_answer(_ranked([current, undated]), None, "정기예금 추천")
    notes = [line for line in text.splitlines() if line.startswith("※")]
    assert any(" ".join(undated.name.split()) in n and "이전 공시" in n for n in notes)
    assert not any(" ".join(current.name.split()) in n for n in notes)
    assert verify_answer(text, [], [current, undated]).ok


def test_category_is_binding(search: IntentSearch) -> None:
    _, found = _ask(search, "채권형 펀드 추천해 주세요", k=10)
    assert found.hits and {h.product.category for h in found.hits} == {"채권형"}


def test_a_product_type_the_catalogue_lacks_is_said_not_substituted(search: IntentSearch) -> None:
    assert not any(p.product_type is ProductType.MORTGAGE_LOAN for p in search.index.products)
    _, found = _ask(search, "주택담보대출 추천해 주세요")
    assert found.hits == [] and found.notices


def test_youth_means_a_youth_product_not_an_age_bonus() -> None:
    from finray.advice.constraints import is_youth_product

    products = [p for r in load_snapshot().values() for p in r.products if p.product_type is S]
    for p in products:
        named = any("청년" in (x or "") for x in (p.name, p.join_member, p.preferential_conditions))
        if named:
            assert is_youth_product(p), p.name
    bonus_only = [p for p in products if "만" in (p.preferential_conditions or "") and not is_youth_product(p)
                  and "청년" not in (p.preferential_conditions or "")]
    assert bonus_only  # products with an age bonus only are not youth products
