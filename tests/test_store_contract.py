"""ONE contract for every store backend: LanceDB always, MongoDB Atlas when MONGODB_URI is set.

Each test runs against a fresh store. Atlas search indexes are eventually consistent, so search
assertions go through :meth:`Backend.eventually`, which retries a query until its result matches
(bounded wait) on Atlas and runs it exactly once on LanceDB.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from finray.products.model import JoinDeny, Product, ProductType, RateOption
from finray.stores.base import (
    ChatLog,
    EmbedderMismatchError,
    Feedback,
    IndexInfo,
    ProductFilters,
    ProductHit,
    SourceStatus,
    Store,
    UserVector,
)
from finray.stores.lance import LanceStore

T = TypeVar("T")

# ==========================================================================================
# TEST FIXTURES — hand-built products whose values are copied from real public data:
#   deposits/savings: /work/shared/data/finlife/{deposit,saving}_202607_bank_rag_project.json
#                     (FSS 금융상품한눈에, dcls_month 202607; rates = intr_rate / intr_rate2)
#   funds:            /work/shared/data/funds/kb_elite_funds_asof_20260630.json
#                     (risk_grade text mapped onto the 1..6 scale: 높은위험=2, 낮은위험=5)
# Only the fields the store contract needs are filled in.
# ==========================================================================================
DIM = 16
E5 = IndexInfo(embedder="e5:test-fixture", dim=DIM)


def _rates(
    rows: list[tuple[int, float, float]], reserve: str | None = None
) -> tuple[RateOption, ...]:
    return tuple(
        RateOption(
            term_months=t, interest_type="단리", reserve_type=reserve, base_rate=b, max_rate=m
        )
        for t, b, m in rows
    )


def _bank(
    kind: ProductType,
    co: str,
    code: str,
    provider: str,
    name: str,
    rates: tuple[RateOption, ...],
    channels: str,
    cond: str | None,
) -> Product:
    return Product(
        product_id=f"{kind.value}:{co}:{code}",
        product_type=kind,
        source=f"finlife:{kind.value}",
        provider=provider,
        provider_code=co,
        product_code=code,
        name=name,
        fin_group="020000",
        rates=rates,
        preferential_conditions=cond,
        join_channels=tuple(channels.split(",")),
        join_deny=JoinDeny.NONE,
        disclosure_month="202607",
        first_seen=date(2026, 7, 31),
        last_seen=date(2026, 7, 31),
    )


def _fund(
    code: str,
    name: str,
    manager: str,
    category: str,
    risk: int,
    fee: float,
    returns: dict[str, float],
    one_liner: str,
) -> Product:
    return Product(
        product_id=f"fund:{code}",
        product_type=ProductType.FUND,
        source="funds:kb",
        provider=manager,
        product_code=code,
        name=name,
        category=category,
        risk_grade=risk,
        fee_pct=fee,
        recent_returns=returns,
        description=one_liner,
        first_seen=date(2026, 6, 30),
    )


D, S = ProductType.DEPOSIT, ProductType.SAVING
PRODUCTS: list[Product] = [
    _bank(
        D,
        "0010001",
        "WR0001B",
        "우리은행",
        "WON플러스예금",
        _rates(
            [
                (1, 2.7, 2.7),
                (3, 2.9, 2.9),
                (6, 3.0, 3.0),
                (12, 3.2, 3.2),
                (24, 2.5, 2.5),
                (36, 2.5, 2.5),
            ]
        ),
        "인터넷,스마트폰,전화(텔레뱅킹)",
        "해당사항 없음",
    ),
    _bank(
        D,
        "0010927",
        "010300100335",
        "국민은행",
        "KB Star 정기예금",
        _rates(
            [
                (1, 2.05, 2.55),
                (3, 2.25, 2.85),
                (6, 2.35, 3.0),
                (12, 2.4, 3.2),
                (24, 2.4, 2.4),
                (36, 2.4, 2.4),
            ]
        ),
        "인터넷,스마트폰",
        "해당무",
    ),
    _bank(
        D,
        "0011625",
        "207-0135-12",
        "신한은행",
        "쏠편한 정기예금",
        _rates(
            [
                (1, 2.0, 2.5),
                (3, 2.2, 2.85),
                (6, 2.2, 3.0),
                (12, 2.3, 3.2),
                (24, 2.35, 2.6),
                (36, 2.4, 2.6),
            ]
        ),
        "인터넷,스마트폰",
        "해당사항없음",
    ),
    _bank(
        D,
        "0015130",
        "10-01-20-388-0002",
        "주식회사 카카오뱅크",
        "카카오뱅크 정기예금",
        _rates(
            [
                (1, 2.9, 2.9),
                (3, 3.3, 3.3),
                (6, 3.4, 3.4),
                (12, 3.6, 3.6),
                (24, 3.0, 3.0),
                (36, 3.0, 3.0),
            ]
        ),
        "스마트폰",
        "※복잡한 우대조건 없이 가입가능한 정기예금",
    ),
    _bank(
        S,
        "0010001",
        "WR0001F",
        "우리은행",
        "우리SUPER주거래적금",
        _rates([(12, 2.45, 3.85), (24, 2.4, 3.8), (36, 2.4, 3.8)], "자유적립식"),
        "영업점,인터넷,스마트폰,전화(텔레뱅킹)",
        "급여/연금 이체:연 0.7%p, 공과금 자동이체 출금: 0.3%p",
    ),
    _bank(
        S,
        "0010927",
        "010200100070",
        "국민은행",
        "KB내맘대로적금",
        _rates([(6, 2.3, 2.9), (12, 2.55, 3.15), (24, 2.75, 3.35), (36, 2.95, 3.55)], "정액적립식"),
        "인터넷,스마트폰",
        "9가지 우대이율 항목 중 6가지를 자유롭게 선택 (최고 연0.6%p)",
    ),
    _bank(
        S,
        "0015130",
        "10-01-30-355-0005",
        "주식회사 카카오뱅크",
        "카카오뱅크 26주적금",
        _rates([(6, 2.0, 5.0)], "자유적립식"),
        "스마트폰",
        "자동이체 연속 성공 우대금리 제공 : 최고 연 3.00%p",
    ),
    _fund(
        "KF04000419",
        "KB스타 재팬 인덱스 증권 자투자신탁(주식-파생형)-C-E",
        "KB자산운용",
        "주식형",
        2,
        1.0,
        {"m1": 4.01, "m3": 7.78, "m6": 23.69, "m12": 64.67},
        "일본 투자, 이거 하나로 끝내자",
    ),
    _fund(
        "KF04001507",
        "AB 글로벌 고수익 증권투자신탁 (채권-재간접형)-Ce",
        "얼라이언스번스틴자산운용",
        "채권형",
        5,
        0.665,
        {"m1": -0.27, "m3": -0.19, "m6": 1.43, "m12": 5.39},
        "글로벌 고수익 채권 투자로 수익 추구",
    ),
]
BY_ID = {p.product_id: p for p in PRODUCTS}
KB_STAR = "deposit:0010927:010300100335"
KB_MYWAY = "saving:0010927:010200100070"
JAPAN_FUND = "fund:KF04000419"
BOND_FUND = "fund:KF04001507"


def _unit_vectors(n: int, seed: int = 20260731) -> np.ndarray:
    """Seeded random unit vectors: deterministic, and distinct enough that each is its own NN."""
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


VECTORS = _unit_vectors(len(PRODUCTS))
VEC = {p.product_id: VECTORS[i] for i, p in enumerate(PRODUCTS)}
ALL = ProductFilters(include_discontinued=True)


# ==========================================================================================
# backends
# ==========================================================================================
@dataclass
class Backend:
    store: Store
    settle_s: float  # how long search results may lag writes (0 = read-your-writes)

    def eventually(self, query: Callable[[], T], ok: Callable[[T], bool]) -> T:
        """Run ``query`` until ``ok`` holds (bounded by ``settle_s``); return the last result."""
        deadline = time.monotonic() + self.settle_s
        while True:
            result = query()
            if ok(result) or time.monotonic() >= deadline:
                return result
            time.sleep(1.0)


def _mongo_backend() -> Iterator[Backend]:
    uri = os.environ.get("MONGODB_URI")
    if not uri:
        pytest.skip("MONGODB_URI is not set: MongoDB Atlas contract run skipped")
    from pymongo import MongoClient

    from finray.stores.mongo import MongoStore

    client: MongoClient = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=10_000)
    db_name = f"finray_test_{uuid.uuid4().hex[:12]}"
    store = MongoStore(uri, db_name, client=client)
    try:
        yield Backend(store, settle_s=180.0)
    finally:
        client.drop_database(db_name)
        client.close()


@pytest.fixture(params=["lance", pytest.param("mongo", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "lance":
        store = LanceStore(tmp_path / "lance")
        yield Backend(store, settle_s=0.0)
        store.close()
    else:
        yield from _mongo_backend()


@pytest.fixture
def indexed(backend: Backend) -> Backend:
    """A backend holding every fixture product with its vector (and searchable)."""
    assert backend.store.upsert_product_vectors(PRODUCTS, VECTORS.tolist(), E5) == len(PRODUCTS)
    if backend.settle_s:  # Atlas: wait for the search indexes before the first query
        assert backend.store.wait_for_search_indexes(backend.settle_s)  # type: ignore[attr-defined]
    return backend


def _ids(hits: list[ProductHit]) -> list[str]:
    return [h.product.product_id for h in hits]


def _vsearch(
    b: Backend, pid: str, filters: ProductFilters, expect: set[str], k: int = 20
) -> list[ProductHit]:
    return b.eventually(
        lambda: b.store.vector_search(VEC[pid].tolist(), k, filters, E5.embedder),
        lambda hits: set(_ids(hits)) == expect,
    )


# ==========================================================================================
# empty store
# ==========================================================================================
def test_empty_store_answers_empty(backend: Backend) -> None:
    s = backend.store
    assert s.product_index_info() is None
    assert s.vector_search(VECTORS[0].tolist(), 5, ProductFilters(), E5.embedder) == []
    assert s.keyword_search("정기예금", 5, ProductFilters()) == []
    assert (
        s.catalogue() == []
        and s.get_products([KB_STAR]) == []
        and s.product_vector(KB_STAR) is None
    )
    assert s.product_vector_hashes() == {} and s.user_persona_hashes() == {}
    assert s.get_user_vector("u1") is None
    assert s.chat_logs() == ([], 0) and s.feedback() == [] and s.source_statuses() == []
    assert s.set_products_discontinued([KB_STAR], date(2026, 8, 1)) == 0


# ==========================================================================================
# catalogue
# ==========================================================================================
def test_catalogue_upsert_replace_and_read(backend: Backend) -> None:
    s = backend.store
    assert s.upsert_catalogue(PRODUCTS) == len(PRODUCTS)
    assert s.upsert_catalogue(PRODUCTS) == len(PRODUCTS)  # idempotent
    assert {p.product_id for p in s.catalogue()} == set(BY_ID)
    assert s.catalogue() == sorted(PRODUCTS, key=lambda p: p.product_id)  # lossless round trip

    changed = BY_ID[KB_STAR].model_copy(
        update={"name": "KB Star 정기예금(개편)", "discontinued_on": date(2026, 8, 1)}
    )
    assert s.upsert_catalogue([changed]) == 1
    assert len(s.catalogue()) == len(PRODUCTS)
    assert next(p for p in s.catalogue() if p.product_id == KB_STAR) == changed

    assert {p.product_id for p in s.catalogue(source="funds:kb")} == {JAPAN_FUND, BOND_FUND}
    active = {p.product_id for p in s.catalogue(include_discontinued=False)}
    assert active == set(BY_ID) - {KB_STAR}
    assert s.catalogue(source="finlife:deposit", include_discontinued=False) == [
        p
        for p in sorted(PRODUCTS, key=lambda p: p.product_id)
        if p.product_type == D and p.product_id != KB_STAR
    ]


# ==========================================================================================
# product vectors
# ==========================================================================================
def test_product_vectors_upsert_is_idempotent_and_replaces(indexed: Backend) -> None:
    s = indexed.store
    assert s.product_index_info() == E5
    assert s.product_vector_hashes() == {p.product_id: p.content_hash for p in PRODUCTS}
    assert s.upsert_product_vectors(PRODUCTS, VECTORS.tolist(), E5) == len(PRODUCTS)
    assert len(s.product_vector_hashes()) == len(PRODUCTS)

    old = BY_ID[KB_MYWAY]
    new = old.model_copy(update={"rates": _rates([(12, 2.6, 3.3)], "정액적립식")})
    assert new.content_hash != old.content_hash
    new_vec = _unit_vectors(1, seed=7)[0]
    assert s.upsert_product_vectors([new], [new_vec.tolist()], E5) == 1
    assert len(s.product_vector_hashes()) == len(PRODUCTS)
    assert s.product_vector_hashes()[KB_MYWAY] == new.content_hash
    assert s.get_products([KB_MYWAY]) == [new]
    np.testing.assert_allclose(s.product_vector(KB_MYWAY), new_vec, atol=1e-6)


def test_get_products_keeps_requested_order(indexed: Backend) -> None:
    order = [BOND_FUND, KB_STAR, "deposit:nope:missing", JAPAN_FUND, KB_MYWAY]
    got = indexed.store.get_products(order)
    assert [p.product_id for p in got] == [BOND_FUND, KB_STAR, JAPAN_FUND, KB_MYWAY]
    assert got[0] == BY_ID[BOND_FUND]  # lossless, including computed fields
    np.testing.assert_allclose(indexed.store.product_vector(JAPAN_FUND), VEC[JAPAN_FUND], atol=1e-6)


def test_vector_search_returns_the_exact_product_first(indexed: Backend) -> None:
    for pid in (KB_STAR, JAPAN_FUND):
        hits = indexed.eventually(
            lambda pid=pid: indexed.store.vector_search(
                VEC[pid].tolist(), 3, ProductFilters(), E5.embedder
            ),
            lambda hits: len(hits) == 3,
        )
        assert _ids(hits)[0] == pid and hits[0].rank == 1
        assert hits[0].score == pytest.approx(1.0, abs=1e-3)  # cosine similarity, not distance
        assert [h.rank for h in hits] == [1, 2, 3] and hits[0].score >= hits[1].score >= hits[
            2
        ].score


@pytest.mark.parametrize(
    ("query", "filters", "expected"),
    [
        (JAPAN_FUND, ProductFilters(product_types=[ProductType.FUND]), {JAPAN_FUND, BOND_FUND}),
        (
            KB_STAR,
            ProductFilters(product_types=[D, S], providers=["국민은행"]),
            {KB_STAR, KB_MYWAY},
        ),
        (KB_STAR, ProductFilters(term_months=6), {p.product_id for p in PRODUCTS if 6 in p.terms}),
        # grade >= 3 drops the 높은위험(2) fund; ungraded deposits/savings always pass
        (JAPAN_FUND, ProductFilters(max_risk_grade_riskiest=3), set(BY_ID) - {JAPAN_FUND}),
        (KB_STAR, ProductFilters(providers=["O'Reilly 은행'); DROP TABLE products; --"]), set()),
    ],
    ids=["type", "provider", "term", "risk", "quoted-provider"],
)
def test_vector_search_respects_filters(
    indexed: Backend, query: str, filters: ProductFilters, expected: set[str]
) -> None:
    hits = _vsearch(indexed, query, filters, expected)
    assert set(_ids(hits)) == expected
    if query in expected:
        assert _ids(hits)[0] == query


def test_discontinued_products_are_excluded_by_default(indexed: Backend) -> None:
    s = indexed.store
    assert s.set_products_discontinued([KB_STAR, KB_STAR], date(2026, 8, 1)) == 1
    assert s.set_products_discontinued([KB_STAR], date(2026, 9, 1)) == 0  # first date is kept
    assert s.get_products([KB_STAR])[0].discontinued_on == date(2026, 8, 1)
    assert s.product_vector_hashes()[KB_STAR] == BY_ID[KB_STAR].content_hash  # bookkeeping only

    hits = _vsearch(indexed, KB_STAR, ProductFilters(), set(BY_ID) - {KB_STAR})
    assert KB_STAR not in _ids(hits)
    hits = _vsearch(indexed, KB_STAR, ALL, set(BY_ID))
    assert _ids(hits)[0] == KB_STAR and not hits[0].product.is_active

    kw = indexed.eventually(
        lambda: s.keyword_search("KB Star 정기예금", 10, ProductFilters()),
        lambda hits: KB_STAR not in _ids(hits),
    )
    assert KB_STAR not in _ids(kw)


def test_keyword_search_finds_korean_compound_fragments(indexed: Backend) -> None:
    s = indexed.store
    # "내맘대로" is a fragment of the compound name "KB내맘대로적금" (no spaces around it)
    hits = indexed.eventually(
        lambda: s.keyword_search("내맘대로", 5, ProductFilters()),
        lambda hits: bool(hits) and _ids(hits)[0] == KB_MYWAY,
    )
    assert _ids(hits)[0] == KB_MYWAY and hits[0].rank == 1 and hits[0].score > 0
    hits = indexed.eventually(
        lambda: s.keyword_search("26주적금", 5, ProductFilters()),
        lambda hits: bool(hits) and _ids(hits)[0] == "saving:0015130:10-01-30-355-0005",
    )
    assert _ids(hits)[0] == "saving:0015130:10-01-30-355-0005"

    named = {p.product_id for p in PRODUCTS if "정기예금" in p.name}
    hits = indexed.eventually(
        lambda: s.keyword_search("정기예금", 10, ProductFilters()),
        lambda hits: named <= set(_ids(hits)),
    )
    assert named <= set(_ids(hits))
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_keyword_search_respects_filters(indexed: Backend) -> None:
    s = indexed.store
    only_deposits = ProductFilters(product_types=[D])
    hits = indexed.eventually(
        lambda: s.keyword_search("KB내맘대로적금 정기예금", 10, only_deposits),
        lambda hits: bool(hits),
    )
    assert hits and all(h.product.product_type == D for h in hits) and KB_MYWAY not in _ids(hits)

    by_provider = ProductFilters(providers=["국민은행"], term_months=6)
    hits = indexed.eventually(
        lambda: s.keyword_search("정기예금 적금", 10, by_provider),
        lambda hits: set(_ids(hits)) == {KB_STAR, KB_MYWAY},
    )
    assert set(_ids(hits)) == {KB_STAR, KB_MYWAY}

    safe = ProductFilters(product_types=[ProductType.FUND], max_risk_grade_riskiest=3)
    hits = indexed.eventually(
        lambda: s.keyword_search("증권투자신탁 인덱스", 10, safe),
        lambda hits: _ids(hits) == [BOND_FUND],
    )
    assert _ids(hits) == [BOND_FUND]
    assert s.keyword_search("정기예금", 10, ProductFilters(providers=["없는'은행"])) == []
    assert s.keyword_search("   ", 10, ProductFilters()) == []


def test_embedder_mismatch_raises_on_write_and_search(indexed: Backend) -> None:
    s = indexed.store
    gemini = IndexInfo(embedder="gemini:models/gemini-embedding-001", dim=DIM)
    with pytest.raises(
        EmbedderMismatchError, match=r"e5:test-fixture \(16-d\).*gemini.*embed_products"
    ):
        s.upsert_product_vectors(PRODUCTS[:1], VECTORS[:1].tolist(), gemini)
    with pytest.raises(EmbedderMismatchError, match="embed_products"):
        s.vector_search(VECTORS[0].tolist(), 3, ProductFilters(), gemini.embedder)
    with pytest.raises(EmbedderMismatchError, match=r"\(8-d\)"):  # same name, other dimension
        s.vector_search(VECTORS[0][:8].tolist(), 3, ProductFilters(), E5.embedder)
    assert s.product_index_info() == E5

    s.reset_product_vectors()  # the sanctioned way to switch embedders
    assert s.product_index_info() is None and s.product_vector_hashes() == {}
    other = IndexInfo(embedder="gemini:models/gemini-embedding-001", dim=8)
    assert s.upsert_product_vectors(PRODUCTS[:2], _unit_vectors(2)[:, :8].tolist(), other) == 2
    assert s.product_index_info() == other


# ==========================================================================================
# users, chat logs, feedback, source status
# ==========================================================================================
def _user(uid: str, persona: str, vec: np.ndarray, embedder: str = E5.embedder) -> UserVector:
    return UserVector(
        user_id=uid,
        persona=persona,
        persona_hash=f"h-{persona}",
        vector=vec.tolist(),
        embedder=embedder,
        updated_at=datetime(2026, 8, 1, 9, 30, tzinfo=UTC),
    )


def test_user_vectors_upsert_get_and_hashes(backend: Backend) -> None:
    s = backend.store
    u1, u2 = (
        _user("u1", "30대 직장인, 안정형", VECTORS[0]),
        _user("u2", "20대 사회초년생, 공격투자형", VECTORS[1]),
    )
    assert s.upsert_user_vectors([u1, u2], E5) == 2
    assert s.user_persona_hashes() == {
        "u1": "h-30대 직장인, 안정형",
        "u2": "h-20대 사회초년생, 공격투자형",
    }
    got = s.get_user_vector("u1")
    assert got is not None and got.model_dump(exclude={"vector"}) == u1.model_dump(
        exclude={"vector"}
    )
    np.testing.assert_allclose(got.vector, u1.vector, atol=1e-6)

    u1b = _user("u1", "30대 직장인, 위험중립형", VECTORS[2])
    assert s.upsert_user_vectors([u1b], E5) == 1
    assert (
        s.user_persona_hashes()["u1"] == "h-30대 직장인, 위험중립형"
        and len(s.user_persona_hashes()) == 2
    )
    with pytest.raises(EmbedderMismatchError, match="embed_users"):
        s.upsert_user_vectors(
            [_user("u3", "x", VECTORS[3], "gemini:g")], IndexInfo(embedder="gemini:g", dim=DIM)
        )


def _log(i: int, user: str, at: datetime) -> ChatLog:
    return ChatLog(
        log_id=f"log-{i:02d}",
        user_id=user,
        question=f"질문 {i}",
        answer=f"답변 {i}",
        product_ids=[KB_STAR] if i % 2 else [],
        latency_ms=12.5 * i,
        created_at=at,
        meta={"route": "chat", "n": i},
    )


def test_chat_logs_pagination_range_and_user(backend: Backend) -> None:
    s = backend.store
    t0 = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
    logs = [_log(i, "u1" if i < 4 else "u2", t0 + timedelta(minutes=i)) for i in range(6)]
    for log in reversed(logs):  # insertion order must not matter
        s.add_chat_log(log)
    s.add_chat_log(logs[0])  # same id again: still one log
    newest_first = list(reversed(logs))

    page, total = s.chat_logs(limit=2)
    assert total == 6 and page == newest_first[:2]
    page, total = s.chat_logs(offset=2, limit=3)
    assert total == 6 and page == newest_first[2:5]
    assert s.chat_logs(offset=10) == ([], 6)
    assert s.chat_logs(user_id="u1") == (list(reversed(logs[:4])), 4)
    assert s.chat_logs(user_id="nobody") == ([], 0)
    # start inclusive, end exclusive
    page, total = s.chat_logs(start=t0 + timedelta(minutes=1), end=t0 + timedelta(minutes=4))
    assert total == 3 and page == [logs[3], logs[2], logs[1]]
    page, total = s.chat_logs(user_id="u2", start=t0 + timedelta(minutes=5))
    assert (page, total) == ([logs[5]], 1)
    naive = s.chat_logs(start=datetime(2026, 8, 1, 9, 4))  # naive = UTC
    assert naive[1] == 2 and naive[0][0].created_at.tzinfo is not None


def test_feedback_add_and_list_per_user(backend: Backend) -> None:
    s = backend.store
    t0 = datetime(2026, 8, 2, 12, 0, tzinfo=UTC)
    f1 = Feedback(
        feedback_id="f1",
        user_id="u1",
        target="product",
        target_id=KB_STAR,
        rating="like",
        created_at=t0,
    )
    f2 = Feedback(
        feedback_id="f2",
        user_id="u1",
        target="answer",
        target_id="log-01",
        rating="dislike",
        comment="금리 정보가 오래됐어요",
        created_at=t0 + timedelta(hours=1),
    )
    f3 = Feedback(
        feedback_id="f3",
        user_id="u2",
        target="product",
        target_id=JAPAN_FUND,
        rating="like",
        created_at=t0 + timedelta(hours=2),
    )
    for f in (f1, f2, f3, f1):
        s.add_feedback(f)
    assert s.feedback(user_id="u1") == [f2, f1]
    assert s.feedback(user_id="u2") == [f3]
    assert s.feedback() == [f3, f2, f1]
    assert s.feedback(user_id="nobody") == []


def test_source_status_put_and_list_replaces_by_source(backend: Backend) -> None:
    s = backend.store
    run = datetime(2026, 7, 31, 14, 49, 24, tzinfo=UTC)
    dep = SourceStatus(
        source="finlife:deposit",
        last_run_at=run,
        last_success_at=run,
        disclosure_month="202607",
        fetched=38,
        valid=38,
        new=38,
        active=38,
    )
    fund = SourceStatus(
        source="funds:kb", last_run_at=run, last_error="HTTP 503 from fund feed", fetched=0
    )
    s.put_source_status(fund)
    s.put_source_status(dep)
    assert s.source_statuses() == [dep, fund]
    dep2 = dep.model_copy(update={"changed": 2, "discontinued": 1, "active": 37, "quarantined": 1})
    s.put_source_status(dep2)
    assert s.source_statuses() == [dep2, fund]


# ==========================================================================================
# LanceDB only: several processes (Ray actors) read one directory while a job writes it
# ==========================================================================================
def _child_search(path: str) -> tuple[list[str], list[str]]:
    store = LanceStore(Path(path))
    vec = store.vector_search(VEC[JAPAN_FUND].tolist(), 2, ProductFilters(), E5.embedder)
    kw = store.keyword_search("내맘대로", 1, ProductFilters())
    return _ids(vec), _ids(kw)


def test_lance_handles_opened_earlier_and_other_processes_see_writes(tmp_path: Path) -> None:
    import multiprocessing

    reader = LanceStore(tmp_path / "shared")  # e.g. a serving actor started before the job ran
    assert reader.vector_search(VEC[KB_STAR].tolist(), 3, ProductFilters(), E5.embedder) == []
    writer = LanceStore(tmp_path / "shared")
    writer.upsert_product_vectors(PRODUCTS, VECTORS.tolist(), E5)
    hits = reader.vector_search(VEC[KB_STAR].tolist(), 1, ProductFilters(), E5.embedder)
    assert _ids(hits) == [KB_STAR]

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(_child_search, [str(tmp_path / "shared")] * 2)
    for vec_ids, kw_ids in results:
        assert vec_ids[0] == JAPAN_FUND and kw_ids == [KB_MYWAY]
    writer.set_products_discontinued([KB_STAR], date(2026, 8, 1))
    hits = reader.vector_search(VEC[KB_STAR].tolist(), 9, ProductFilters(), E5.embedder)
    assert KB_STAR not in _ids(hits)

    # an embedder switch under a live reader: it follows the new index instead of failing
    writer.reset_product_vectors()
    small = IndexInfo(embedder="gemini:models/gemini-embedding-001", dim=8)
    writer.upsert_product_vectors(PRODUCTS, _unit_vectors(len(PRODUCTS))[:, :8].tolist(), small)
    assert reader.product_index_info() == small
    with pytest.raises(EmbedderMismatchError):
        reader.vector_search(VEC[KB_STAR].tolist(), 3, ProductFilters(), E5.embedder)
    assert len(reader.vector_search([0.1] * 8, 3, ProductFilters(), small.embedder)) == 3
    assert _ids(reader.keyword_search("내맘대로", 1, ProductFilters())) == [KB_MYWAY]


def test_lance_append_only_tables_compact_and_keep_every_row(tmp_path, monkeypatch) -> None:
    """Chat logs and feedback are appended; every COMPACT_EVERY appends the table is compacted
    (fewer data files, old versions pruned) and nothing is lost."""
    from finray.stores import lance as lance_module

    monkeypatch.setattr(lance_module, "COMPACT_EVERY", 5)
    store = lance_module.LanceStore(tmp_path / "lance")
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(12):
        store.add_chat_logs([ChatLog(log_id=f"log_{i:02d}", user_id="U0000001", question="q", answer="a",
                                     created_at=t0 + timedelta(minutes=i))])
    table = store._open("chat_logs")
    fragments = lambda: table.stats()["fragment_stats"]["num_fragments"]  # noqa: E731
    assert fragments() <= 3  # 12 appends, compacted after the 5th and the 10th
    logs, total = store.chat_logs(user_id="U0000001", limit=100)
    assert total == 12 and [x.log_id for x in logs] == [f"log_{i:02d}" for i in reversed(range(12))]
    store.compact()
    assert fragments() == 1
    assert store.chat_logs(limit=100)[1] == 12


def test_lance_serving_reader_follows_a_rebuilt_user_index(tmp_path: Path) -> None:
    """A serving replica reuses the user index's table name for a few seconds; a rebuild with
    another embedder elsewhere drops that table, and the reader follows at once, never failing."""
    reader = LanceStore(tmp_path / "shared")
    writer = LanceStore(tmp_path / "shared")
    writer.upsert_user_vectors([_user("U0000001", "첫 페르소나", VEC[KB_STAR])], E5)
    assert reader.get_user_vector("U0000001").persona == "첫 페르소나"
    writer.reset_user_vectors()
    small = IndexInfo(embedder="gemini:models/gemini-embedding-001", dim=8)
    vec8 = _unit_vectors(1)[0, :8]
    writer.upsert_user_vectors([_user("U0000001", "새 페르소나", vec8, small.embedder)], small)
    got = reader.get_user_vector("U0000001")
    assert got is not None and got.persona == "새 페르소나" and got.embedder == small.embedder and len(got.vector) == 8
    assert reader.get_user_vector("U0000002") is None


def test_amount_filter_keeps_products_whose_limit_takes_it(backend: Backend) -> None:
    """``min_limit_krw``: products with a 최고한도 below the amount are filtered inside the store;
    products that publish no limit take any amount (same on every backend)."""
    capped = BY_ID[KB_MYWAY].model_copy(update={"max_limit": 300_000})
    products = [capped if p.product_id == KB_MYWAY else p for p in PRODUCTS]
    assert backend.store.upsert_product_vectors(products, VECTORS.tolist(), E5) == len(products)
    if backend.settle_s:
        assert backend.store.wait_for_search_indexes(backend.settle_s)  # type: ignore[attr-defined]
    everything = {p.product_id for p in products}
    small = ProductFilters(min_limit_krw=300_000)
    large = ProductFilters(min_limit_krw=300_001)
    assert set(_ids(_vsearch(backend, KB_STAR, small, everything))) == everything
    assert set(_ids(_vsearch(backend, KB_STAR, large, everything - {KB_MYWAY}))) == everything - {KB_MYWAY}
    kw = backend.eventually(
        lambda: backend.store.keyword_search("KB내맘대로적금", 10, large),
        lambda hits: KB_MYWAY not in _ids(hits),
    )
    assert KB_MYWAY not in _ids(kw)
    with_it = backend.store.keyword_search("KB내맘대로적금", 10, small)
    assert KB_MYWAY in _ids(with_it)
