"""Retrieval that does what the question asked: constraints filter, objectives order, alternatives say so.

:func:`search_with_intent` is the one place that turns a :class:`QueryIntent` into hits:

1. Type, term, provider and amount become store filters (:func:`~finray.advice.constraints.store_filters`),
   so every search mode — vector, keyword, hybrid — only ever sees products that satisfy them;
   eligibility and channel words are checked on each hit's own texts.
2. An ordering objective (highest rate at the asked term, lowest loan rate, lowest risk) ranks
   the *whole* satisfying set by that figure — a comparison site's filter-and-sort — with
   relevance only breaking ties. Without one, relevance (RRF of vector and keyword) orders.
3. When nothing satisfies the question, constraints are relaxed one at a time, least important
   first (term → nearest offered term, then eligibility/channel, amount, provider), and each hit
   found that way carries a note saying what it does not meet ("6개월 상품이 없어 9개월 상품을
   안내합니다."). Type is never relaxed: a deposit is no answer to a loan question.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from finray.advice.constraints import objective_score, store_filters, violations
from finray.intent.model import QueryIntent, Slot, term_label, won_label
from finray.intent.parse import merge_request
from finray.intent.providers import ProviderDirectory
from finray.products.model import ProductType
from finray.retrieval.search import SearchMode
from finray.stores.base import ProductFilters, ProductHit

if TYPE_CHECKING:
    from finray.retrieval.memory_index import CatalogueIndex

#: How many satisfying products an objective ranks at most (the catalogue's largest filtered set
#: — deposits at one term — is a few hundred).
ORDER_POOL = 2000


class Searcher(Protocol):
    def search(
        self, text: str, vector: Sequence[float] | None, embedder: str, filters: ProductFilters,
        k: int, mode: SearchMode = SearchMode.HYBRID, candidates: int | None = None,
    ) -> list[ProductHit]: ...


@dataclass
class IntentHits:
    """Hits for a question, and the notices that explain any relaxation."""

    hits: list[ProductHit]
    notices: list[str] = field(default_factory=list)
    relaxed: QueryIntent | None = None  # the intent the hits actually satisfy, when relaxed


def _search(searcher: Searcher, intent: QueryIntent, directory: ProviderDirectory | None, text: str,
            vector: Sequence[float] | None, embedder: str, k: int, mode: SearchMode,
            base: ProductFilters | None) -> list[ProductHit]:
    """Satisfying hits, best first: by the objective when it orders, else by relevance."""
    filters = store_filters(intent, directory, base)
    if mode is not SearchMode.KEYWORD and vector is None:
        mode = SearchMode.KEYWORD
    if mode is SearchMode.KEYWORD and not text.strip():
        return []
    ordered = bool(intent.objectives)
    # Conditions no store indexes (eligibility, channel, category) are checked on each hit, so
    # they need the whole filtered set, like an ordering objective; otherwise 3×k is plenty.
    post_filtered = bool(intent.eligibility or intent.channels or intent.categories)
    pool = ORDER_POOL if ordered or post_filtered else 3 * k
    hits = searcher.search(text, vector, embedder, filters, pool, mode)
    kept = [h for h in hits if not violations(h.product, intent, directory)]
    scored = [(objective_score(h.product, intent), h) for h in kept]
    if any(score is not None for score, _ in scored):
        # the objective's figure first (larger is better), then relevance rank, then id
        scored.sort(key=lambda sh: (-(sh[0] if sh[0] is not None else float("-inf")), sh[1].rank,
                                    sh[1].product.product_id))
        kept = [h.model_copy(update={"score": float(score or 0.0)}) for score, h in scored]
    return [h.model_copy(update={"rank": i}) for i, h in enumerate(kept[:k], start=1)]


def _relaxations(intent: QueryIntent, directory: ProviderDirectory | None, terms: list[int]):
    """(relaxed intent, note) pairs, least important constraint first; each step keeps the last."""
    current = intent
    if intent.term_months is not None:
        asked = term_label(intent.term_months)
        for t in terms[:3]:
            yield (current.model_copy(update={"term_months": t}), f"{asked} 상품이 없어 {term_label(t)} 상품을 안내합니다.")
        current = current.model_copy(update={"term_months": None})
        yield current, f"{asked} 상품이 없어 다른 기간의 상품을 안내합니다."
    if intent.eligibility or intent.channels:
        words = "·".join([e.korean for e in intent.eligibility] + [c.korean for c in intent.channels])
        current = current.model_copy(update={"eligibility": [], "channels": []})
        yield current, f"{words} 조건에 맞는 상품이 없어 조건 없이 찾은 상품을 안내합니다."
    if intent.categories:
        what = "·".join(intent.categories)
        current = current.model_copy(update={"categories": []})
        yield current, f"{what} 상품이 없어 같은 종류의 다른 상품을 안내합니다."
    if intent.amount_krw is not None:
        current = current.model_copy(update={"amount_krw": None})
        yield current, f"{won_label(intent.amount_krw)}까지 가입할 수 있는 상품이 없어 한도가 더 낮은 상품을 안내합니다."
    if intent.providers or intent.provider_classes:
        who = ", ".join(intent.provider_mentions or intent.providers) or "·".join(
            c.korean for c in intent.provider_classes)
        what = "·".join(t.korean for t in intent.product_types) or "조건에 맞는"
        current = current.model_copy(update={"providers": [], "provider_mentions": [], "provider_classes": []})
        yield current, f"{who}의 {what} 상품이 없어 다른 금융회사 상품을 안내합니다."


def search_with_intent(
    searcher: Searcher,
    intent: QueryIntent,
    text: str,
    vector: Sequence[float] | None,
    embedder: str,
    k: int,
    mode: SearchMode | str = SearchMode.HYBRID,
    *,
    directory: ProviderDirectory | None = None,
    base_filters: ProductFilters | None = None,
    term_pool: Sequence[int] = (),
) -> IntentHits:
    """Top ``k`` hits satisfying ``intent`` in its objective's order (see the module docstring).

    ``term_pool``: terms the catalogue offers for the asked types, for the nearest-term
    relaxation (the caller knows its catalogue; without it, the term is dropped instead).
    """
    mode = SearchMode(mode)
    hits = _search(searcher, intent, directory, text, vector, embedder, k, mode, base_filters)
    if hits:
        return IntentHits(hits=hits)
    terms = nearest_terms_from(term_pool, intent.term_months)
    for relaxed, note in _relaxations(intent, directory, terms):
        found = _search(searcher, relaxed, directory, text, vector, embedder, k, mode, base_filters)
        if found:
            return IntentHits(hits=[h.model_copy(update={"note": note}) for h in found], notices=[note],
                              relaxed=relaxed)
    what = "·".join(t.korean for t in intent.product_types)
    return IntentHits(hits=[], notices=[f"조건에 맞는 {what} 상품이 없습니다." if what else "조건을 모두 만족하는 상품이 없습니다."])


def nearest_terms_from(pool: Sequence[int], term: int | None) -> list[int]:
    if term is None:
        return []
    offered = sorted({t for t in pool if t != term})
    return sorted(offered, key=lambda t: (abs(t - term), -t))




class IntentSearch:
    """Question understanding and constrained search over one catalogue index.

    Built per :class:`~finray.retrieval.memory_index.CatalogueIndex` (the provider directory and
    the offered terms come from the products it holds), so both change when the index reloads.
    """

    def __init__(self, index: CatalogueIndex) -> None:
        from finray.intent.parse import IntentParser

        self.index = index
        self.directory = ProviderDirectory.from_products(index.products)
        self.parser = IntentParser(self.directory)
        self._terms: dict[tuple[str, ...], list[int]] = {}

    def understand(
        self, question: str | None, *, product_types: Sequence[ProductType] | None = None,
        term_months: int | None = None, providers: Sequence[str] | None = None,
        amount_krw: int | None = None, drop: Sequence[Slot] = (),
    ) -> QueryIntent:
        """What ``question`` asks, with the request's explicit fields and removed chips applied."""
        intent = self.parser.parse(question or "")
        return merge_request(intent, product_types=product_types, term_months=term_months,
                             providers=providers, amount_krw=amount_krw, drop=drop)

    def terms_for(self, types: Sequence[ProductType]) -> list[int]:
        key = tuple(sorted(t.value for t in types))
        if key not in self._terms:
            self._terms[key] = sorted({t for p in self.index.products
                                       if not types or p.product_type in types for t in p.terms})
        return self._terms[key]

    def search(
        self, text: str, vector: Sequence[float] | None, embedder: str, intent: QueryIntent,
        base_filters: ProductFilters | None, k: int, mode: SearchMode | str = SearchMode.HYBRID,
    ) -> IntentHits:
        from finray.retrieval.memory_index import CatalogueSearch

        return search_with_intent(
            CatalogueSearch(self.index), intent, text, vector, embedder, k, mode,
            directory=self.directory, base_filters=base_filters, term_pool=self.terms_for(intent.product_types),
        )


_BY_INDEX: dict[int, tuple[CatalogueIndex, IntentSearch]] = {}
_BY_INDEX_LOCK = threading.Lock()


def intent_search_for(index: CatalogueIndex) -> IntentSearch:
    """The :class:`IntentSearch` of ``index`` (built once per loaded index; the last two are kept)."""
    with _BY_INDEX_LOCK:
        held = _BY_INDEX.get(id(index))
        if held is not None and held[0] is index:
            return held[1]
        built = IntentSearch(index)
        _BY_INDEX[id(index)] = (index, built)
        while len(_BY_INDEX) > 2:
            _BY_INDEX.pop(next(iter(_BY_INDEX)))
        return built
