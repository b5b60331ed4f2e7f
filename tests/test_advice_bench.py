"""The advice-quality benchmark's own pieces (no Ray, no model): questions, labels, metrics."""

from __future__ import annotations

import math

import pytest

from bench.advice_quality import (
    Observation,
    capped_precision_at_k,
    compare_slots,
    dcg,
    evaluate,
    judge_citations,
    ndcg_at_k,
    rate_regret,
    search_gains,
    slots_from_intent,
    targets,
)
from bench.advice_questions import (
    HIGHEST_RATE,
    PROVIDER_ALIASES,
    STANDARD_TERMS,
    TERM_PHRASES,
    Catalogue,
    Constraints,
    Question,
    Slots,
    constraints_for,
    generate,
    is_youth,
    rate_at,
)
from finray.products.model import Product, ProductType, RateOption

KINDS = {"term_rate", "provider", "provider_alias", "none_available", "amount", "eligibility", "provider_class",
         "objective", "category", "loan", "type_intent"}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.bundled()


@pytest.fixture(scope="module")
def questions(catalogue: Catalogue) -> list[Question]:
    return generate(catalogue)


# --------------------------------------------------------------------------------------------
# the question set
# --------------------------------------------------------------------------------------------
def test_enough_questions_covering_every_type_and_kind(questions: list[Question], catalogue: Catalogue) -> None:
    assert len(questions) >= 60
    assert {q.kind for q in questions} == KINDS
    asked = {t for q in questions for t in q.slots.product_types}
    assert {p.product_type.value for p in catalogue.products} <= asked
    assert sum(q.type_level for q in questions) >= 10
    assert sum(q.rate_term is not None for q in questions) >= 20
    assert any(q.expect_none for q in questions)
    assert len({q.text for q in questions}) == len(questions), "duplicate question texts"
    assert len({q.qid for q in questions}) == len(questions)


def test_generation_is_deterministic(questions: list[Question], catalogue: Catalogue) -> None:
    assert [q.as_dict() for q in generate(catalogue)] == [q.as_dict() for q in questions]


def test_every_term_phrasing_is_asked(questions: list[Question]) -> None:
    texts = " | ".join(q.text for q in questions if q.kind == "term_rate")
    for phrases in TERM_PHRASES.values():
        for phrase in phrases:
            assert phrase in texts, phrase


def test_labels_are_consistent_with_the_catalogue(questions: list[Question], catalogue: Catalogue) -> None:
    """A question has a satisfying product exactly when it is not flagged "none available"."""
    for q in questions:
        n = len(catalogue.satisfying(q.constraints))
        assert (n == 0) == q.expect_none, (q.qid, q.text, n)
        assert q.slots.providers <= catalogue.providers, q.qid
        if q.slots.term_months is not None:
            assert q.slots.term_months in STANDARD_TERMS


def test_constraints_follow_the_slots(questions: list[Question]) -> None:
    for q in questions:
        c = q.constraints
        assert c.types == q.slots.product_types
        assert c.term_months == q.slots.term_months
        assert c.providers == q.slots.providers
        assert c.amount_krw == (q.slots.amount[0] if q.slots.amount else None)


def test_provider_aliases_resolve_to_catalogue_names(questions: list[Question], catalogue: Catalogue) -> None:
    by_text = {q.text.split()[0]: q for q in questions if q.kind == "provider_alias"}
    assert by_text["KB국민은행"].slots.providers == {"국민은행"}
    assert by_text["카카오뱅크"].slots.providers == {"주식회사 카카오뱅크"}
    assert by_text["하나은행"].slots.providers == {t for t in PROVIDER_ALIASES["하나은행"] if t in catalogue.providers}
    assert by_text["하나은행"].slots.providers  # at least 주식회사 하나은행
    assert by_text["IBK기업은행"].slots.providers == {"중소기업은행"}
    assert by_text["토스뱅크"].slots.providers == {"토스뱅크 주식회사"}
    assert by_text["SC제일은행"].slots.providers == {"한국스탠다드차타드은행"}
    assert by_text["KB저축은행"].slots.providers == {"케이비저축은행"}
    woori = by_text["우리은행"]
    for p in catalogue.products:
        if p.provider in ("우리금융저축은행", "우리저축은행"):
            assert not woori.constraints(p), "우리은행 must not take a savings bank"


def test_rate_questions_have_a_rate_for_every_satisfying_product(questions: list[Question], catalogue: Catalogue) -> None:
    for q in questions:
        if q.rate_term is None:
            continue
        assert q.slots.product_types <= {"deposit", "saving"} and HIGHEST_RATE in q.slots.objectives
        for p in catalogue.satisfying(q.constraints):
            assert rate_at(p, q.rate_term) is not None, (q.qid, p.product_id)


def test_amount_and_youth_rules(catalogue: Catalogue) -> None:
    limited = next(p for p in catalogue.of_type("saving") if p.max_limit == 300_000)
    assert Constraints(amount_krw=300_000)(limited)
    assert not Constraints(amount_krw=500_000)(limited)
    youth_names = {p.name for p in catalogue.products if is_youth(p)}
    assert "청포도 청년적금" in youth_names
    assert "꿈나무장학적금" not in youth_names  # 1~19세: children, not 청년


# --------------------------------------------------------------------------------------------
# metrics on hand-computed examples
# --------------------------------------------------------------------------------------------
def test_ndcg_binary_and_graded() -> None:
    # relevant a, b; ranked x, a, b: DCG = 1/log2(3) + 1/log2(4); ideal = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["x", "a", "b"], {"a": 1.0, "b": 1.0}) == pytest.approx(expected)
    assert ndcg_at_k(["x", "a", "b"], {"a": 1.0, "b": 1.0}) == pytest.approx(0.69342, abs=1e-4)
    # graded: b (1) before a (2): (1 + 2/log2 3) / (2 + 1/log2 3)
    assert ndcg_at_k(["b", "a"], {"a": 2.0, "b": 1.0}) == pytest.approx(0.85972, abs=1e-4)
    assert ndcg_at_k(["a", "b"], {"a": 2.0, "b": 1.0}) == pytest.approx(1.0)
    assert ndcg_at_k(["a"], {}) is None
    assert ndcg_at_k([], {"a": 1.0}) == 0.0
    # only the top k count
    assert ndcg_at_k(["x", "a"], {"a": 1.0}, k=1) == 0.0
    assert dcg([1.0, 1.0]) == pytest.approx(1 + 1 / math.log2(3))


def test_capped_precision() -> None:
    eight = {f"p{i}" for i in range(8)}
    assert capped_precision_at_k([*sorted(eight), "x", "y"], eight) == 1.0  # only 8 exist
    assert capped_precision_at_k(["a", "x"], {"a", "b", "c"}) == pytest.approx(1 / 3)
    many = {f"p{i}" for i in range(50)}
    assert capped_precision_at_k([f"p{i}" for i in range(7)] + ["x", "y", "z"], many) == pytest.approx(0.7)
    assert capped_precision_at_k(["a"], set()) is None


def test_rate_regret() -> None:
    sat = [4.0, 3.5, 3.0, 2.0]
    assert rate_regret([3.0, 2.5, 2.0, 4.0], sat) == pytest.approx(3.5 - 2.5)  # first 3 cited vs best 3
    assert rate_regret([3.0], sat) == pytest.approx(1.0)  # one cited: against the best one
    assert rate_regret([4.0, 3.5, 3.0], sat) == pytest.approx(0.0)
    assert rate_regret([], sat) is None


def _product(pid: str, ptype: str, provider: str, rates: dict[int, tuple[float, float | None]] | None = None,
             **kw) -> Product:
    return Product(
        product_id=pid, product_type=ProductType(ptype), source="test", provider=provider, product_code=pid,
        name=kw.pop("name", pid),
        rates=tuple(RateOption(term_months=t, base_rate=b, max_rate=m) for t, (b, m) in (rates or {}).items()),
        **kw,
    )


@pytest.fixture
def tiny() -> Catalogue:
    return Catalogue.of([
        _product("d1", "deposit", "A은행", {12: (3.0, 3.5), 6: (2.5, None)}),
        _product("d2", "deposit", "A은행", {12: (3.2, None)}),
        _product("d3", "deposit", "B저축은행", {12: (3.0, 4.0)}, max_limit=10_000_000),
        _product("d4", "deposit", "B저축은행", {6: (2.0, 2.2)}),
        _product("s1", "saving", "A은행", {12: (4.0, 5.0)}),
        _product("f1", "fund", "C자산운용", category="채권형"),
    ])


def _q(qid: str, slots: Slots, **kw) -> Question:
    return Question(qid=qid, text=qid, kind="test", slots=slots, constraints=constraints_for(slots),
                    type_level=kw.get("type_level", False), expect_none=kw.get("expect_none", False))


def test_rate_at_and_gains(tiny: Catalogue) -> None:
    assert rate_at(tiny.by_id["d1"], 12) == 3.5  # max_rate when published
    assert rate_at(tiny.by_id["d2"], 12) == 3.2  # else base_rate
    assert rate_at(tiny.by_id["d1"], 24) is None
    q = _q("r", Slots(product_types=frozenset({"deposit"}), term_months=12, objectives=frozenset({HIGHEST_RATE})))
    sat = tiny.satisfying(q.constraints)
    assert {p.product_id for p in sat} == {"d1", "d2", "d3"}
    assert search_gains(q, sat) == {"d1": 2.0, "d2": 2.0, "d3": 2.0}  # fewer than 10: all in the top group
    plain = _q("p", Slots(product_types=frozenset({"deposit"})))
    assert set(search_gains(plain, tiny.satisfying(plain.constraints)).values()) == {1.0}


def test_judge_citations_alternatives_count_only_when_nothing_satisfies(tiny: Catalogue) -> None:
    has = _q("has", Slots(product_types=frozenset({"deposit"}), term_months=6))  # d1, d4 satisfy
    judged = judge_citations(has, [("d1", None), ("d2", "6개월 상품이 없어 …")], tiny)
    assert [j.ok for j in judged] == [True, False]  # d2 has no 6-month term; marking does not excuse it
    none = _q("none", Slots(product_types=frozenset({"deposit"}), term_months=36), expect_none=True)
    judged = judge_citations(none, [("d1", "36개월 상품이 없어 12개월 상품을 안내합니다."), ("d2", None), ("zz", "x")], tiny)
    assert [j.ok for j in judged] == [True, False, False]  # marked ok; unmarked and unknown fail


def test_evaluate_on_a_tiny_catalogue(tiny: Catalogue) -> None:
    rate_q = _q("rate", Slots(product_types=frozenset({"deposit"}), term_months=12, objectives=frozenset({HIGHEST_RATE})))
    prov_q = _q("prov", Slots(product_types=frozenset({"deposit"}), providers=frozenset({"A은행"})))
    type_q = _q("type", Slots(product_types=frozenset({"saving"})), type_level=True)
    obs = {
        # cites d3 (4.0), d2 (3.2), s1 (wrong type): 2 of 3 satisfy; regret over n = 2:
        # best 2 = (4.0 + 3.5) / 2 = 3.75, cited = (4.0 + 3.2) / 2 = 3.6 → 0.15
        "rate": Observation(intent=rate_q.slots, cited=[("d3", None), ("d2", None), ("s1", None)],
                            search={"hybrid": ["d3", "d1", "d2"], "vector": ["s1", "d3", "d1"]}),
        # right provider, wrong term read: 1 slot of 7 wrong
        "prov": Observation(intent=Slots(product_types=frozenset({"deposit"}), providers=frozenset({"A은행"}), term_months=12),
                            cited=[("d1", None), ("d2", None)], search={"hybrid": ["d1", "d2"], "vector": ["d2", "d1"]}),
        "type": Observation(intent=type_q.slots, cited=[("s1", None)], search={"hybrid": ["d1", "s1"], "vector": ["s1"]}),
    }
    m = evaluate([rate_q, prov_q, type_q], tiny, obs)
    assert m["n_questions"] == 3
    assert m["cited_products"] == 6
    assert m["constraint_satisfaction"] == pytest.approx(5 / 6)
    assert m["rate_regret_pp"] == pytest.approx(0.15)
    assert m["rate_questions_scored"] == 1
    assert m["slot_accuracy"] == pytest.approx(20 / 21)
    assert m["slot_accuracy_by_slot"]["term_months"] == pytest.approx(2 / 3)
    assert m["ndcg10_hybrid"] == pytest.approx(mean3(1.0, 1.0, 1 / math.log2(3)))  # type: s1 at rank 2 of 1 relevant
    assert m["type_precision10"] == pytest.approx(1.0)  # s1 is the only saving: 1 / min(10, 1)
    assert m["ndcg10_vector"] < m["ndcg10_hybrid"]
    kinds_failed = {f["metric"] for f in m["failures"]}
    assert {"constraint", "slot:term_months", "rate_regret"} <= kinds_failed
    t = targets(m)
    assert t["constraint_satisfaction"]["met"] is False
    assert t["hybrid_vs_best_single"]["value"] == pytest.approx(m["ndcg10_hybrid"] - m["ndcg10_vector"])


def mean3(a: float, b: float, c: float) -> float:
    return (a + b + c) / 3


# --------------------------------------------------------------------------------------------
# reading what the system reports
# --------------------------------------------------------------------------------------------
def test_slots_from_intent_object_json_and_view() -> None:
    from finray.intent.model import Objective, QueryIntent

    intent = QueryIntent(product_types=[ProductType.SAVING], term_months=24, amount_krw=500_000, amount_period="monthly",
                         providers=["국민은행"], objectives=[Objective.HIGHEST_RATE])
    expected = Slots(product_types=frozenset({"saving"}), term_months=24, amount=(500_000, "monthly"),
                     providers=frozenset({"국민은행"}), objectives=frozenset({"highest_rate"}))
    assert slots_from_intent(intent) == expected
    assert slots_from_intent(intent.model_dump(mode="json")) == expected
    assert slots_from_intent({"summary": "…", "chips": [], "intent": intent.model_dump(mode="json")}) == expected
    assert all(compare_slots(expected, slots_from_intent(intent)).values())
    wrong = compare_slots(expected, Slots(product_types=frozenset({"saving"})))
    assert wrong["product_types"] and not wrong["term_months"] and not wrong["amount"]


def test_sse_events() -> None:
    """The benchmark reads chat streams with the server's own SSE parser."""
    from serve_apps.sse import parse as sse_events

    body = 'id: 1\nevent: meta\ndata: {"a":1}\n\nid: 2\nevent: delta\ndata: {"text":"x"}\n\nevent: done\ndata: {"cited":[]}\n\n'
    assert sse_events(body) == [("meta", {"a": 1}), ("delta", {"text": "x"}), ("done", {"cited": []})]


def test_write_section_replaces_only_its_own(tmp_path) -> None:
    from bench.advice_quality import SECTION, write_section

    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## Other\n\nkeep me\n", encoding="utf-8")
    write_section(path, f"{SECTION}\n\nfirst\n")
    path.write_text(path.read_text(encoding="utf-8") + "\n## Later\n\nalso keep\n", encoding="utf-8")
    write_section(path, f"{SECTION}\n\nsecond\n")
    text = path.read_text(encoding="utf-8")
    assert text.count(SECTION) == 1 and "second" in text and "first" not in text
    assert "keep me" in text and "also keep" in text
