"""Keyword search over the catalogue: BM25 (``bm25s``) over one of two tokenizations.

Two ways to cut Korean text into terms, chosen by the ``FINRAY_KEYWORD_TOKENIZER`` setting:

``bigram``
    Character 2-grams of the whole text (:func:`bigrams`), the analyzer of the embedded LanceDB
    full-text index. No dictionary: any shared 2-character run is evidence, so compounds and
    unknown names match by their pieces, and so do unrelated words that share a syllable pair.
``morpheme``
    Content morphemes from Kiwi (:func:`morphemes`): nouns, Latin words, numbers with their unit
    ("12개월", "500만원"), roots and the stems of verbs and adjectives ("낮" of "낮은"); particles,
    endings and punctuation are dropped. A long noun Kiwi keeps whole ("페퍼저축은행",
    "청년도약계좌" — dictionary names and unknown words) is also indexed by its 2-grams, so a query
    naming part of it ("페퍼", "저축은행", "청년 도약 계좌") still meets it.

:class:`KeywordIndex` scores two fields, ``rag_text`` and ``name``, each its own BM25 index
(Lucene variant, k1 = 1.2, b = 0.75), and sums the two scores, like a multi-field match. bm25s
gets the token lists already cut (as ids plus a vocabulary), so none of its English stopwords or
stemming applies. A query matches with OR semantics: every distinct query term found in a field
adds its weight once; a document sharing no term scores 0.

Kiwi costs a few milliseconds per product description, so a build sends the descriptions to Kiwi
in one batch (spread over its worker threads) and keeps their terms by text: a periodic reload
of an unchanged catalogue analyses nothing again.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized

from finray.config import Settings
from finray.products.model import Product
from finray.text.kiwi import kiwi, tokens

if TYPE_CHECKING:
    from kiwipiepy import Token

Tokenizer = Literal["bigram", "morpheme"]
TOKENIZERS: tuple[Tokenizer, ...] = get_args(Tokenizer)
#: The default of the ``keyword_tokenizer`` setting (one place decides it: :mod:`finray.config`).
DEFAULT_TOKENIZER: Tokenizer = Settings.model_fields["keyword_tokenizer"].default

#: BM25 parameters (the usual defaults, also tantivy's, which LanceDB's full-text search uses).
BM25_K1, BM25_B = 1.2, 0.75


# --------------------------------------------------------------------------------------------
# character 2-grams
# --------------------------------------------------------------------------------------------
def bigrams(text: str) -> list[str]:
    """Character 2-grams of the whole text, case- and ASCII-folded, runs of whitespace as one space.

    That is LanceDB's ``ngram`` full-text configuration (its 2-grams span word boundaries too;
    "정기 예금" gives 정기, "기 ", " 예", 예금), so both rank by the same evidence.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())  # also full-width → ASCII
    folded = unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))
    folded = _SPACES_RE.sub(" ", folded).strip()
    return [folded[i : i + 2] for i in range(len(folded) - 1)]


_SPACES_RE = re.compile(r"\s+")


# --------------------------------------------------------------------------------------------
# Kiwi content morphemes
# --------------------------------------------------------------------------------------------
#: Tags kept as terms (irregular variants such as ``VA-I`` count as their base tag): common and
#: proper nouns, pronouns ("우리" of 우리은행), numerals ("하나", "천만"), roots, Latin, Hanja,
#: numbers, and verb/adjective stems.
_KEPT_TAGS = frozenset({"NNG", "NNP", "NP", "NR", "XR", "SL", "SH", "SN", "VV", "VA"})
#: Light verbs that carry grammar, not content ("~을 위한", "~에 따른", "~에 대한", "~를 통해").
_LIGHT_STEMS = frozenset({"하", "되", "있", "이", "위하", "대하", "통하", "따르", "의하", "관하"})
#: What a number absorbs when written right after it: bound nouns ("12개월", "1년", "26주"),
#: numerals ("500만원"), and two units written as common nouns or symbols.
_UNIT_TAGS = frozenset({"NNB", "NR"})
_UNIT_FORMS = frozenset({"%", "등급"})
#: A prefix written onto a noun changes its meaning (비대면, 무보증, 재간접): kept joined to it.
_NOUN_TAGS = frozenset({"NNG", "NNP"})
#: Adverbs count only when written onto a noun, number or Latin word with no space: then they
#: are part of a product or company name ("톡톡정기예금", "바로6개월", "다올저축은행"), while an
#: adverb standing alone ("가장 높은", "매우 낮은") is phrasing.
_GLUED_TAGS = frozenset({"NNG", "NNP", "SN", "SL"})
#: A Hangul noun this long that Kiwi left whole is a name or an unknown compound: also index its
#: 2-grams. Kiwi splits ordinary compounds itself (정기예금 → 정기 + 예금).
_LONG_NOUN = 4
_HANGUL_RE = re.compile(r"[가-힣]+")
_SCRIPT_RUNS_RE = re.compile(r"[가-힣]+|[^가-힣]+")


def _base_tag(tag: str) -> str:
    return tag.split("-", 1)[0]


def _noun_terms(form: str) -> list[str]:
    """A noun, plus its script runs if mixed ("kb국민은행" → kb, 국민은행) and the 2-grams of a long
    Hangul run ("국민은행" → 국민, 민은, 은행)."""
    out = [form]
    runs = _SCRIPT_RUNS_RE.findall(form)
    if len(runs) > 1:
        out.extend(runs)
    for run in runs:
        if len(run) >= _LONG_NOUN and _HANGUL_RE.fullmatch(run):
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def morphemes(text: str) -> list[str]:
    """Content morphemes of ``text`` (NFKC-normalized, Latin case-folded), in text order.

    "12개월 정기예금 금리" gives ``["12개월", "정기", "예금", "금리"]``: a number joins the unit
    written right after it, nouns and Latin words are kept, particles, endings, determiners,
    affixes and punctuation are dropped, and bound nouns only count after a number.
    """
    text = unicodedata.normalize("NFKC", text)
    return _content_terms(tokens(text)) if text.strip() else []


def _content_terms(toks: Sequence[Token]) -> list[str]:
    """The terms :func:`morphemes` keeps from Kiwi's tokens of one text."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        tag = _base_tag(t.tag)
        if tag == "SN":  # 12 + 개월 → "12개월"; 500 + 만 + 원 → "500만원"
            form, end, j = t.form, t.start + t.len, i + 1
            while j < len(toks) and toks[j].start == end and (
                _base_tag(toks[j].tag) in _UNIT_TAGS or toks[j].form in _UNIT_FORMS
            ):
                form, end, j = form + toks[j].form, end + toks[j].len, j + 1
            out.append(form.casefold())
            i = j
            continue
        i += 1
        nxt = toks[i] if i < len(toks) and toks[i].start == t.start + t.len else None  # written onto t
        if tag == "XPN":  # 비 + 대면 → "비대면" (대면 itself comes next)
            if nxt is not None and _base_tag(nxt.tag) in _NOUN_TAGS:
                out.append((t.form + nxt.form).casefold())
            continue
        if tag == "MAG":  # an adverb glued to a noun is part of a name (톡톡정기예금, 바로저축은행)
            if nxt is not None and _base_tag(nxt.tag) in _GLUED_TAGS:
                out.append(t.form.casefold())
            continue
        if tag not in _KEPT_TAGS:
            continue
        if tag in ("VV", "VA"):
            if t.form not in _LIGHT_STEMS:
                out.append(t.form)
        elif tag == "SL":
            out.append(t.form.casefold())
        else:
            out.extend(_noun_terms(t.form.casefold()))
    return out


#: Morpheme terms of document texts seen by recent builds (text → terms), oldest first.
_DOC_TERMS: dict[str, tuple[str, ...]] = {}
_DOC_TERMS_MAX = 8192  # a few catalogues' worth of rag_text and names
_DOC_TERMS_LOCK = threading.Lock()


def _document_morphemes(texts: Sequence[str]) -> list[tuple[str, ...]]:
    """:func:`morphemes` of many document texts. New texts go to Kiwi in one batch (its worker
    threads share the work); texts seen by a recent build come from a cache, so reloading an
    unchanged catalogue costs no analysis."""
    with _DOC_TERMS_LOCK:
        cached = {t: _DOC_TERMS[t] for t in texts if t in _DOC_TERMS}
    missing = [t for t in dict.fromkeys(texts) if t not in cached]
    normalized = [unicodedata.normalize("NFKC", t) for t in missing]
    fresh = dict.fromkeys(missing, ())
    todo = [(t, n) for t, n in zip(missing, normalized, strict=True) if n.strip()]
    if todo:
        for (text, _), toks in zip(todo, kiwi().tokenize([n for _, n in todo]), strict=True):
            fresh[text] = tuple(_content_terms(toks))
    with _DOC_TERMS_LOCK:
        for text, terms in cached.items():  # used again: now the newest
            _DOC_TERMS.pop(text, None)
            _DOC_TERMS[text] = terms
        _DOC_TERMS.update(fresh)
        for old in list(_DOC_TERMS)[: max(0, len(_DOC_TERMS) - _DOC_TERMS_MAX)]:
            del _DOC_TERMS[old]
    cached.update(fresh)
    return [cached[t] for t in texts]


def _document_bigrams(texts: Sequence[str]) -> list[list[str]]:
    return [bigrams(t) for t in texts]


_DOCUMENT_TOKENIZERS: dict[str, Callable[[Sequence[str]], Sequence[Sequence[str]]]] = {
    "bigram": _document_bigrams, "morpheme": _document_morphemes,
}
_QUERY_TOKENIZERS: dict[str, Callable[[str], Sequence[str]]] = {"bigram": bigrams, "morpheme": morphemes}


def tokenize(text: str, tokenizer: Tokenizer) -> list[str]:
    """The terms of ``text`` under ``tokenizer``."""
    return list(_QUERY_TOKENIZERS[tokenizer](text))


# --------------------------------------------------------------------------------------------
# the index
# --------------------------------------------------------------------------------------------
def _field_index(docs: Sequence[Sequence[str]]) -> bm25s.BM25 | None:
    """BM25 over pre-cut token lists; ``None`` when the field has no term at all."""
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(term, len(vocab)) for term in doc] for doc in docs]
    if not vocab:
        return None
    index = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
    index.index(Tokenized(ids=ids, vocab=vocab), create_empty_token=False, show_progress=False)
    return index


@dataclass(frozen=True)
class KeywordIndex:
    """BM25 over the terms of ``rag_text`` and ``name`` (scores of the two fields summed).

    Rows follow the order of the products given to :meth:`build`.
    """

    fields: tuple[bm25s.BM25 | None, ...]
    n_docs: int
    tokenizer: Tokenizer

    @classmethod
    def build(cls, products: Sequence[Product], tokenizer: Tokenizer = DEFAULT_TOKENIZER) -> KeywordIndex:
        """Index the ``rag_text`` and ``name`` of ``products``, cut by ``tokenizer``."""
        if tokenizer not in TOKENIZERS:
            raise ValueError(f"unknown keyword tokenizer {tokenizer!r}; expected one of {TOKENIZERS}")
        cut = _DOCUMENT_TOKENIZERS[tokenizer]
        fields = tuple(
            _field_index(cut(texts)) if texts else None
            for texts in ([p.rag_text for p in products], [p.name for p in products])
        )
        return cls(fields=fields, n_docs=len(products), tokenizer=tokenizer)

    def scores(self, text: str) -> np.ndarray:
        """BM25 score of every document for ``text`` (shape ``(n_docs,)``; 0 = no shared term)."""
        scores = np.zeros(self.n_docs, dtype=np.float32)
        terms = list(dict.fromkeys(tokenize(text, self.tokenizer)))  # OR semantics, each term once
        if not terms:
            return scores
        for field in self.fields:
            if field is None:
                continue
            ids = field.get_tokens_ids(terms)
            if ids:
                scores += field.get_scores_from_ids(ids)
        return scores
