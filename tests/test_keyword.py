"""Keyword search (finray.retrieval.keyword): the two tokenizers, BM25 scores against the formula,
name lookups over the bundled catalogue, and filters through the catalogue index. No Ray.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from finray.config import SettingsError
from finray.products.model import Product, ProductType
from finray.products.snapshot import load_snapshot
from finray.retrieval import keyword as kw
from finray.retrieval.keyword import BM25_B, BM25_K1, TOKENIZERS, KeywordIndex, bigrams, morphemes, tokenize
from finray.retrieval.memory_index import CatalogueIndex, LiveIndex
from finray.retrieval.memory_index import bigrams as reexported_bigrams
from finray.stores.base import IndexInfo, ProductFilters
from finray.stores.lance import LanceStore


# =============================================================================================
# tokenizers
# =============================================================================================
def test_morphemes_keep_content_and_join_numbers_with_units() -> None:
    assert morphemes("12개월 정기예금 금리") == ["12개월", "정기", "예금", "금리"]
    assert morphemes("1년 만기 500만원 예치") == ["1년", "만기", "500만원", "예치"]
    assert morphemes("위험등급 6등급 펀드") == ["위험", "등급", "6등급", "펀드"]
    # particles, endings, determiners and punctuation are dropped; adjective stems stay
    got = morphemes("정기예금의 금리가 가장 높은 상품은?")
    assert got == ["정기", "예금", "금리", "높", "상품"]
    # light verbs are grammar ("~을 위한"), content verbs stay
    assert "위하" not in morphemes("노후를 위한 연금") and "모으" in morphemes("목돈을 모으는 적금")


def test_morphemes_fold_latin_and_handle_names() -> None:
    assert morphemes("ＫＢ　Ｓｔａｒ ETF") == ["kb", "star", "etf"]  # NFKC: full-width → ASCII
    # a long noun Kiwi keeps whole (a name) is also indexed by its pieces
    pepper = morphemes("페퍼저축은행")
    assert pepper[0] == "페퍼저축은행" and {"페퍼", "저축", "은행"} <= set(pepper)
    kb = morphemes("KB국민은행")
    assert {"kb국민은행", "kb", "국민은행", "국민", "은행"} <= set(kb)
    # a prefix stays on its noun (비대면 ≠ 대면); an adverb glued into a name counts, a free one not
    assert {"비대면", "대면"} <= set(morphemes("비대면 정기예금"))
    assert "톡톡" in morphemes("톡톡정기예금") and "가장" not in morphemes("가장 좋은 예금")
    assert morphemes("") == [] and morphemes("  \n") == [] and morphemes("?!…") == []


def test_bigrams_unchanged() -> None:
    assert bigrams("정기 예금") == ["정기", "기 ", " 예", "예금"]
    assert bigrams("  ＫＢ\t\tCafé ") == ["kb", "b ", " c", "ca", "af", "fe"]  # folded, spaces squeezed
    assert bigrams("예") == [] and bigrams("") == []
    assert reexported_bigrams is bigrams  # memory_index keeps the old import path
    assert tokenize("정기 예금", "bigram") == bigrams("정기 예금")
    assert tokenize("12개월 정기예금", "morpheme") == morphemes("12개월 정기예금")


def test_document_terms_are_the_query_terms_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["12개월 정기예금 금리", "페퍼저축은행 SB톡톡 정기적금(비대면)", "", "ＫＢ 스타 펀드", "12개월 정기예금 금리"]
    kw._DOC_TERMS.clear()
    batch = kw._document_morphemes(texts)  # one Kiwi batch over the new texts
    assert [list(t) for t in batch] == [morphemes(t) for t in texts]
    monkeypatch.setattr(kw, "kiwi", lambda: pytest.fail("a cached text went to Kiwi again"))
    assert kw._document_morphemes(texts[::-1]) == batch[::-1]


# =============================================================================================
# BM25 scores against the formula, on three small products
# =============================================================================================
def _fund(code: str, name: str, provider: str, description: str) -> Product:
    return Product(product_id=f"fund:{code}", product_type=ProductType.FUND, source="funds:kb",
                   provider=provider, product_code=code, name=name, description=description)


TINY = [
    _fund("T1", "가람 채권 펀드", "가람자산운용", "국내 채권에 투자하는 채권형 펀드"),
    _fund("T2", "누리 주식 펀드", "누리자산운용", "미국 주식과 채권에 나누어 투자"),
    _fund("T3", "다솜 정기예금형 펀드", "다솜자산운용", "예금처럼 안정적인 단기 채권 펀드"),
]


def _reference_scores(products: list[Product], query: str, tokenizer: kw.Tokenizer) -> np.ndarray:
    """BM25 written out: per field, idf = ln(1 + (N - df + 0.5) / (df + 0.5)) (Lucene) times
    tf / (tf + k1 * (1 - b + b * len / avg_len)), summed over the distinct query terms and the two
    fields. (Lucene, and bm25s's "lucene" method, leave out the constant (k1 + 1) factor of the
    textbook numerator; it scales every score alike.)"""
    terms = list(dict.fromkeys(tokenize(query, tokenizer)))
    total = np.zeros(len(products))
    for texts in ([p.rag_text for p in products], [p.name for p in products]):
        docs = [tokenize(t, tokenizer) for t in texts]
        n, avg = len(docs), sum(map(len, docs)) / len(docs)
        for term in terms:
            df = sum(term in d for d in docs)
            if df == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            for i, d in enumerate(docs):
                tf = d.count(term)
                if tf:
                    total[i] += idf * tf / (tf + BM25_K1 * (1 - BM25_B + BM25_B * len(d) / avg))
    return total


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
@pytest.mark.parametrize("query", ["채권 펀드", "미국 주식", "안정적인 단기 채권", "정기예금", "가람자산운용 채권 채권"])
def test_scores_match_the_bm25_formula(tokenizer: kw.Tokenizer, query: str) -> None:
    index = KeywordIndex.build(TINY, tokenizer)
    assert index.tokenizer == tokenizer and index.n_docs == 3
    got = index.scores(query)
    assert got.shape == (3,) and got.dtype == np.float32
    expected = _reference_scores(TINY, query, tokenizer)
    assert expected.max() > 0  # the query does share terms with the corpus
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_or_semantics_each_term_once(tokenizer: kw.Tokenizer) -> None:
    index = KeywordIndex.build(TINY, tokenizer)
    repeated = "채권 채권 채권" if tokenizer == "morpheme" else "채권채권"  # bigram: 채권, 권채, 채권
    assert "권채" not in tokenize(TINY[0].rag_text + TINY[1].rag_text + TINY[2].rag_text, tokenizer)
    np.testing.assert_allclose(index.scores(repeated), index.scores("채권"), rtol=1e-6)
    if tokenizer == "morpheme":  # two disjoint terms: the scores add up (OR, not AND)
        np.testing.assert_allclose(index.scores("주식 예금"), index.scores("주식") + index.scores("예금"), rtol=1e-5)
    only_t2 = index.scores("미국")
    assert only_t2[1] > 0 and only_t2[0] == only_t2[2] == 0  # no shared term → exactly 0


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_empty_catalogue_and_unknown_terms_give_zeros(tokenizer: kw.Tokenizer) -> None:
    empty = KeywordIndex.build([], tokenizer)
    assert empty.scores("정기예금").shape == (0,) and empty.scores("").shape == (0,)
    index = KeywordIndex.build(TINY, tokenizer)
    for query in ["", "   ", "zzqq", "?!", "쀍뛣"]:
        got = index.scores(query)
        assert got.shape == (3,) and not got.any(), query


def test_unknown_tokenizer_is_refused() -> None:
    with pytest.raises(ValueError, match="tokenizer"):
        KeywordIndex.build(TINY, "words")  # type: ignore[arg-type]


# =============================================================================================
# the bundled catalogue
# =============================================================================================
@pytest.fixture(scope="module")
def catalogue() -> list[Product]:
    products = [p for result in load_snapshot().values() for p in result.products]
    assert len(products) > 1000
    return sorted(products, key=lambda p: p.product_id)


@pytest.fixture(scope="module")
def indexes(catalogue: list[Product]) -> dict[str, KeywordIndex]:
    return {t: KeywordIndex.build(catalogue, t) for t in TOKENIZERS}


def _distinct_names(products: list[Product]) -> list[int]:
    """Rows whose name, ignoring case, spaces and punctuation, neither contains nor is contained
    in another product's name ("정기예금" vs "정기예금(서울본점)", "…종류C" vs "…종류C-e" are out):
    for those a name lookup has one right answer."""
    keys = [re.sub(r"[\W_]+", "", p.name.casefold()) for p in products]
    return [i for i, k in enumerate(keys) if not any(j != i and (k in o or o in k) for j, o in enumerate(keys))]


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_own_name_ranks_the_product_first(catalogue: list[Product], indexes: dict[str, KeywordIndex],
                                          tokenizer: kw.Tokenizer) -> None:
    index = indexes[tokenizer]
    rows = _distinct_names(catalogue)
    assert len(rows) > 400
    firsts, worst = 0, 0
    for i in rows:
        scores = index.scores(catalogue[i].name)
        order = np.lexsort((np.arange(len(scores)), -scores))
        rank = int(np.flatnonzero(order == i)[0])
        firsts += rank == 0
        worst = max(worst, rank)
    # Not every one is first: siblings differing in one weak term ("단기채" vs "중단기채", share
    # classes "C" vs "Ce", "코리아 스타" vs "KB스타 코리아") can outscore through rag_text. Measured on
    # the bundled catalogue: bigram 470/472 first, morpheme 461/472, none below third.
    assert firsts >= 0.95 * len(rows), f"{tokenizer}: {firsts}/{len(rows)} first"
    assert worst <= 2, f"{tokenizer}: a product's own name ranked it {worst + 1}th"
    for name in ["e-행복더드림정기적금", "WON플러스예금", "KB 인디아 증권 자투자신탁(주식)-C-E"]:
        i = next(i for i, p in enumerate(catalogue) if p.name == name)
        assert int(np.argmax(index.scores(name))) == i, (tokenizer, name)


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_catalogue_index_keyword_search_honours_filters(catalogue: list[Product], tokenizer: kw.Tokenizer) -> None:
    rng = np.random.default_rng(0)
    index = CatalogueIndex.build(IndexInfo(embedder="test", dim=4), catalogue,
                                 rng.normal(size=(len(catalogue), 4)).tolist(), tokenizer=tokenizer)
    assert index.keywords.tokenizer == tokenizer
    unfiltered = index.keyword_search("정기예금 금리", len(catalogue), ProductFilters())
    assert {h.product.product_type for h in unfiltered} > {ProductType.DEPOSIT}  # the filter has work to do
    deposits = index.keyword_search("정기예금 금리", 50, ProductFilters(product_types=[ProductType.DEPOSIT]))
    assert deposits and {h.product.product_type for h in deposits} == {ProductType.DEPOSIT}
    assert [h.rank for h in deposits] == list(range(1, len(deposits) + 1))
    assert [h.score for h in deposits] == sorted((h.score for h in deposits), reverse=True)
    provider = deposits[0].product.provider
    own = index.keyword_search("정기예금", 20, ProductFilters(providers=[provider]))
    assert own and {h.product.provider for h in own} == {provider}
    funds = index.keyword_search("채권 펀드", 30, ProductFilters(product_types=[ProductType.FUND], max_risk_grade_riskiest=5))
    assert funds and all(h.product.product_type == ProductType.FUND and h.product.risk_grade >= 5 for h in funds)
    assert index.keyword_search("쀍뛣", 5, ProductFilters()) == [] and index.keyword_search("  ", 5, ProductFilters()) == []
    assert CatalogueIndex.empty(tokenizer).keyword_search("정기예금", 5, ProductFilters()) == []


# =============================================================================================
# the setting, and who passes it on
# =============================================================================================
def test_tokenizer_setting(make_settings) -> None:  # noqa: ANN001 - conftest fixture
    assert make_settings().keyword_tokenizer == kw.DEFAULT_TOKENIZER
    assert make_settings(FINRAY_KEYWORD_TOKENIZER="bigram").keyword_tokenizer == "bigram"
    with pytest.raises(SettingsError, match="FINRAY_KEYWORD_TOKENIZER"):
        make_settings(FINRAY_KEYWORD_TOKENIZER="words")


def test_live_index_keeps_its_tokenizer_across_reloads(tmp_path: Path) -> None:
    live = LiveIndex(LanceStore(tmp_path / "lance"), start_thread=False, tokenizer="bigram")
    assert live.current.keywords.tokenizer == "bigram"
    assert live.refresh() and live.current.keywords.tokenizer == "bigram"
    assert CatalogueIndex.load(LanceStore(tmp_path / "lance"), "morpheme").keywords.tokenizer == "morpheme"
