"""Advice quality: does the advisor do what the customer asked?

Measured with labelled questions derived by rule from the bundled catalogue
(``bench/advice_questions.py``: templates × slot values taken from the catalogue, each question
with its expected slots and its constraint rule — never a hand-picked expected result). The same
questions run twice:

1. **in-process** — the library directly: ``IntentParser`` on a ``ProviderDirectory`` of the
   indexed catalogue, ``search_with_intent`` over ``CatalogueSearch`` of the in-memory index (per
   mode, plus keyword search with each keyword tokenization, plus plain search without the intent
   as a baseline), and ``AdvisorService(LocalSources(...)).recommend`` for the answers (k = 5);
2. **through Serve over HTTP** — a Serve app started here (or ``--url`` of a running ``make up``
   deployment), signed in with dev login (``POST /api/v1/auth/dev-login``):
   ``GET /api/v1/products/search`` per mode (k = 10) and ``POST /api/v1/chat/stream`` (k = 5,
   the ``done`` event's ``cited`` and ``intent``).

The answering customer is the demo user with the highest 투자성향 (ties: lowest id), so
suitability never removes a fund a fund question asks for.

Metrics (``evaluate``):

* ``constraint_satisfaction`` — share of cited products (all questions, k = 5) that meet every
  explicit constraint of their question. When *no* catalogue product meets them, a cited
  product the answer marks as an alternative (``alternative_note`` set) counts as satisfying —
  marking is then the right behaviour; unmarked violators always fail, and so do marked ones
  when a satisfying product existed.
* ``rate_regret_pp`` — for rate questions (deposit/saving, "highest rate", a term): the
  figure of a product is its 최고금리 at the asked term (per rate row ``max_rate``, else
  ``base_rate``; the best row at that term). Per question, with n = min(3, number of cited
  products that satisfy the constraints): mean figure of the best n satisfying catalogue
  products − mean figure of the first n satisfying cited products (in answer order), in %p.
  ``rate_regret_pp`` is the mean over questions; questions whose answer cites no satisfying
  product are counted in ``rate_regret_unscored`` (the constraint metric already charges them).
* ``ndcg10_<mode>`` — nDCG@10 of product search (linear gain, log2 discount), over the questions
  with at least one satisfying product. Gain: 1 for a product satisfying the constraints, 0
  otherwise — except rate questions, graded: 2 for the 10 best satisfying products by the
  figure above (ties at the 10th included), 1 for other satisfying ones. The ideal list is
  built from the whole catalogue. Modes: ``hybrid``, ``vector``, ``keyword`` (the deployment's
  tokenizer), in-process also ``keyword_bigram`` / ``keyword_morpheme`` and ``*_no_intent``
  (plain search, no intent filters or ordering).
* ``type_precision10`` — type-level wishes ("목돈을 맡기고 이자 받고 싶어요"): right-type hits in
  the hybrid top 10 / min(10, right-type products in the catalogue) (only 8 credit loans exist).
* ``slot_accuracy`` — share of (question, slot) pairs, 7 slots, where the intent the advisor
  reports equals the expected value (sets compared as sets); per slot in ``slot_accuracy_by_slot``,
  and ``slot_accuracy_informative`` over the pairs where the expected or the read value is set.

Targets: constraint satisfaction ≥ 0.98; rate regret ≤ 0.05 %p; hybrid nDCG@10 ≥ best single
mode + 0.05; type precision@10 ≥ 0.9; slot accuracy ≥ 0.95.

Usage::

    .venv/bin/python bench/advice_quality.py                       # scratch home, in-process + Serve
    .venv/bin/python bench/advice_quality.py --skip-serve --out /tmp/aq.json
    .venv/bin/python bench/advice_quality.py --home var --url http://127.0.0.1:8000   # a running `make up`
    ... --results bench/RESULTS.md     # replace the "Advice quality" section with this run
    .venv/bin/python bench/advice_questions.py                     # list the questions and their labels

Without ``--home`` a scratch FINRAY_HOME is prepared the way ``make jobs`` fills one (demo users,
``collect_products`` from the bundled snapshot, ``embed_products``), which needs a local Ray
(started here, stopped at the end). The JSON (``--out``, default ``bench/results/advice_quality.json``)
holds every figure of both runs, the per-question failures (capped) and ``git_sha``/``date``.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.serving import run_app  # noqa: E402
from serve_apps import sse  # noqa: E402
from bench.advice_questions import (  # noqa: E402
    SLOT_NAMES,
    Catalogue,
    Question,
    Slots,
    generate,
    kinds,
    rate_at,
)

NAME = "advice_quality"
SECTION = "## Advice quality"
K_SEARCH, K_ANSWER = 10, 5
MODES = ("hybrid", "vector", "keyword")
TOKENIZERS = ("bigram", "morpheme")
TARGETS = {
    "constraint_satisfaction": 0.98,
    "rate_regret_pp": 0.05,
    "hybrid_margin": 0.05,
    "type_precision10": 0.9,
    "slot_accuracy": 0.95,
}
FAILURES_PER_METRIC, FAILURES_TOTAL = 40, 250


# --------------------------------------------------------------------------------------------
# metrics (pure functions)
# --------------------------------------------------------------------------------------------
def dcg(gains: Sequence[float]) -> float:
    """Σ gain_i / log2(i + 1), ranks i from 1."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], gains: dict[str, float], k: int = K_SEARCH) -> float | None:
    """nDCG@k of ``ranked`` ids; None when nothing is relevant (the ideal DCG is 0)."""
    ideal = dcg(sorted((g for g in gains.values() if g > 0), reverse=True)[:k])
    if ideal <= 0:
        return None
    return dcg([gains.get(pid, 0.0) for pid in ranked[:k]]) / ideal


def capped_precision_at_k(ranked: Sequence[str], relevant: set[str], k: int = K_SEARCH) -> float | None:
    """Relevant ids in the top k / min(k, |relevant|); None when nothing is relevant."""
    denom = min(k, len(relevant))
    if denom == 0:
        return None
    return sum(1 for pid in ranked[:k] if pid in relevant) / denom


def rate_regret(cited_rates: Sequence[float], satisfying_rates: Sequence[float], n: int = 3) -> float | None:
    """mean(best m of ``satisfying_rates``) − mean(first m of ``cited_rates``), m = min(n, both lengths)."""
    m = min(n, len(cited_rates), len(satisfying_rates))
    if m == 0:
        return None
    return mean(sorted(satisfying_rates, reverse=True)[:m]) - mean(cited_rates[:m])


def search_gains(q: Question, satisfying: Sequence[Any]) -> dict[str, float]:
    """Gain per product id (see the module docstring): binary, graded by rate for rate questions."""
    term = q.rate_term
    if term is None:
        return {p.product_id: 1.0 for p in satisfying}
    rates = {p.product_id: rate_at(p, term) for p in satisfying}
    ranked = sorted((r for r in rates.values() if r is not None), reverse=True)
    cut = ranked[min(len(ranked), 10) - 1] if ranked else None
    return {pid: 2.0 if (r is not None and cut is not None and r >= cut) else 1.0 for pid, r in rates.items()}


@dataclass(frozen=True)
class Judged:
    product_id: str
    ok: bool
    violations: tuple[str, ...] = ()
    marked: bool = False


def judge_citations(q: Question, cited: Sequence[tuple[str, str | None]], cat: Catalogue,
                    none_available: bool | None = None) -> list[Judged]:
    """Each cited (product_id, alternative_note) against the question's constraints."""
    if none_available is None:
        none_available = not cat.satisfying(q.constraints)
    out = []
    for pid, note in cited:
        p = cat.by_id.get(pid)
        if p is None:
            out.append(Judged(pid, False, ("not in the catalogue",), bool(note)))
            continue
        v = tuple(q.constraints.violations(p))
        ok = not v or (none_available and bool(note))
        out.append(Judged(pid, ok, v, bool(note)))
    return out


def slots_from_intent(intent: Any) -> Slots:
    """:class:`Slots` of a ``QueryIntent``, its JSON, or an ``IntentView`` (``{"summary", "chips", "intent"}``)."""
    d = intent.model_dump(mode="json") if hasattr(intent, "model_dump") else dict(intent or {})
    if isinstance(d.get("intent"), dict):
        d = d["intent"]
    amount = None
    if d.get("amount_krw") is not None:
        amount = (int(d["amount_krw"]), d.get("amount_period") or "once")
    fs = lambda key: frozenset(str(x) for x in d.get(key) or [])  # noqa: E731
    return Slots(
        product_types=fs("product_types"), term_months=d.get("term_months"), amount=amount,
        providers=fs("providers"), provider_classes=fs("provider_classes"), eligibility=fs("eligibility"),
        objectives=fs("objectives"),
    )


def compare_slots(expected: Slots, got: Slots) -> dict[str, bool]:
    return {s: expected.value(s) == got.value(s) for s in SLOT_NAMES}


def _is_set(v: Any) -> bool:
    return v not in (None, [], ())


# --------------------------------------------------------------------------------------------
# observations and their evaluation
# --------------------------------------------------------------------------------------------
@dataclass
class Observation:
    """What one run saw for one question."""

    intent: Slots | None = None
    cited: list[tuple[str, str | None]] | None = None  # (product_id, alternative_note), answer order
    search: dict[str, list[str]] = field(default_factory=dict)  # mode → product ids, best first
    notices: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _mean(xs: Iterable[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return mean(vals) if vals else None


class _Failures:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.per: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()

    def add(self, metric: str, q: Question, expected: Any, got: Any) -> None:
        if self.per[metric] >= FAILURES_PER_METRIC or len(self.items) >= FAILURES_TOTAL:
            self.dropped[metric] += 1
            return
        self.per[metric] += 1
        self.items.append({"metric": metric, "qid": q.qid, "kind": q.kind, "question": q.text,
                           "expected": expected, "got": got})


def evaluate(questions: Sequence[Question], cat: Catalogue, obs: dict[str, Observation]) -> dict[str, Any]:
    """All metrics of one run (see the module docstring), with per-kind figures and failures."""
    fail = _Failures()
    slot_hits: dict[str, list[bool]] = defaultdict(list)
    informative: list[bool] = []
    judged_all: list[Judged] = []
    per_kind_cs: dict[str, list[bool]] = defaultdict(list)
    regrets: list[float] = []
    unscored = 0
    ndcg: dict[str, list[float]] = defaultdict(list)
    per_kind_ndcg: dict[str, list[float]] = defaultdict(list)
    ndcg_plain: dict[str, list[float]] = defaultdict(list)
    tprec: dict[str, list[float]] = defaultdict(list)
    empty_answers, errors = 0, 0
    for q in questions:
        o = obs.get(q.qid)
        if o is None:
            continue
        if o.errors:
            errors += 1
            fail.add("error", q, None, o.errors[:3])
        satisfying = cat.satisfying(q.constraints)
        sat_ids = {p.product_id for p in satisfying}
        # slots
        if o.intent is not None:
            for slot, ok in compare_slots(q.slots, o.intent).items():
                slot_hits[slot].append(ok)
                if _is_set(q.slots.value(slot)) or _is_set(o.intent.value(slot)):
                    informative.append(ok)
                if not ok:
                    fail.add(f"slot:{slot}", q, q.slots.value(slot), o.intent.value(slot))
        # the answer
        if o.cited is not None:
            if not o.cited and satisfying:
                empty_answers += 1
                fail.add("empty_answer", q, f"{len(satisfying)} satisfying products", [])
            judged = judge_citations(q, o.cited, cat, none_available=not satisfying)
            judged_all += judged
            per_kind_cs[q.kind] += [j.ok for j in judged]
            for j in judged:
                if not j.ok:
                    p = cat.by_id.get(j.product_id)
                    fail.add("constraint", q, q.constraints.describe(), {
                        "product_id": j.product_id, "name": p.name if p else None,
                        "provider": p.provider if p else None, "violations": list(j.violations),
                        "marked_alternative": j.marked, "none_available": not satisfying,
                    })
            term = q.rate_term
            if term is not None and satisfying:
                cited_sat = [cat.by_id[pid] for pid, _ in o.cited if pid in sat_ids]
                cited_rates = [r for p in cited_sat if (r := rate_at(p, term)) is not None]
                sat_rates = [r for p in satisfying if (r := rate_at(p, term)) is not None]
                reg = rate_regret(cited_rates, sat_rates)
                if reg is None:
                    unscored += 1
                else:
                    regrets.append(reg)
                    if reg > TARGETS["rate_regret_pp"]:
                        m = min(3, len(cited_rates))
                        fail.add("rate_regret", q, sorted(sat_rates, reverse=True)[:m],
                                 {"cited": [[p.product_id, rate_at(p, term)] for p in cited_sat[:m]],
                                  "regret_pp": round(reg, 3)})
        # search
        gains = search_gains(q, satisfying)
        for mode, ids in o.search.items():
            v = ndcg_at_k(ids, gains)
            if v is None:
                continue
            ndcg[mode].append(v)
            if not q.slots.objectives:  # relevance decides the order (an objective sorts by its figure)
                ndcg_plain[mode].append(v)
            if mode == "hybrid":
                per_kind_ndcg[q.kind].append(v)
                if v < 0.8:
                    wrong = [pid for pid in ids[:K_SEARCH] if pid not in sat_ids][:3]
                    fail.add("ndcg_hybrid", q, f"{len(satisfying)} satisfying products",
                             {"ndcg10": round(v, 3), "irrelevant_in_top10": wrong})
            if q.type_level:
                prec = capped_precision_at_k(ids, sat_ids)
                if prec is not None:
                    tprec[mode].append(prec)
                    if mode == "hybrid" and prec < TARGETS["type_precision10"]:
                        got_types = Counter(cat.by_id[pid].product_type.value for pid in ids[:K_SEARCH] if pid in cat.by_id)
                        fail.add("type_precision", q, sorted(q.constraints.types), dict(got_types))
    out: dict[str, Any] = {
        "n_questions": len([q for q in questions if q.qid in obs]),
        "errors": errors,
        "constraint_satisfaction": _mean(float(j.ok) for j in judged_all),
        "cited_products": len(judged_all),
        "marked_alternatives": sum(j.marked for j in judged_all),
        "empty_answers": empty_answers,
        "constraint_satisfaction_by_kind": {k: mean(v) for k, v in sorted(per_kind_cs.items()) if v},
        "rate_regret_pp": _mean(regrets),
        "rate_regret_max_pp": max(regrets) if regrets else None,
        "rate_questions_scored": len(regrets),
        "rate_regret_unscored": unscored,
        "slot_accuracy": _mean(float(x) for v in slot_hits.values() for x in v),
        "slot_accuracy_by_slot": {s: mean(slot_hits[s]) for s in SLOT_NAMES if slot_hits[s]},
        "slot_accuracy_informative": _mean(float(x) for x in informative),
        "type_precision10": _mean(tprec.get("hybrid", [])),
        "type_precision10_by_mode": {m: mean(v) for m, v in tprec.items() if v},
        "ndcg10_hybrid_by_kind": {k: mean(v) for k, v in sorted(per_kind_ndcg.items())},
        "search_questions": len(ndcg.get("hybrid", [])),
        "failures": fail.items,
        "failures_dropped": dict(fail.dropped),
    }
    for mode, vals in sorted(ndcg.items()):
        out[f"ndcg10_{mode}"] = mean(vals)
    out["ndcg10_without_objective"] = {mode: mean(v) for mode, v in sorted(ndcg_plain.items())}
    out["search_questions_without_objective"] = len(ndcg_plain.get("hybrid", []))
    return out


def targets(m: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with the figure and met/missed (None when the figure is missing)."""
    singles = [m.get(f"ndcg10_{x}") for x in ("vector", "keyword")]
    singles = [x for x in singles if x is not None]
    best_single = max(singles) if singles else None
    hyb = m.get("ndcg10_hybrid")

    def t(value: float | None, ok: bool | None, goal: str) -> dict[str, Any]:
        return {"value": value, "target": goal, "met": ok}

    cs, rr, tp, sa = (m.get(k) for k in ("constraint_satisfaction", "rate_regret_pp", "type_precision10", "slot_accuracy"))
    margin = hyb - best_single if hyb is not None and best_single is not None else None
    return {
        "constraint_satisfaction": t(cs, None if cs is None else cs >= TARGETS["constraint_satisfaction"], "≥ 0.98"),
        "rate_regret_pp": t(rr, None if rr is None else rr <= TARGETS["rate_regret_pp"], "≤ 0.05 %p"),
        "hybrid_vs_best_single": t(margin, None if margin is None else margin >= TARGETS["hybrid_margin"],
                                   "hybrid nDCG@10 ≥ best single mode + 0.05"),
        "type_precision10": t(tp, None if tp is None else tp >= TARGETS["type_precision10"], "≥ 0.9"),
        "slot_accuracy": t(sa, None if sa is None else sa >= TARGETS["slot_accuracy"], "≥ 0.95"),
    }


# --------------------------------------------------------------------------------------------
# in-process run
# --------------------------------------------------------------------------------------------
def _hits_of(result: Any) -> tuple[list[Any], list[str]]:
    """(hits, notices) of ``search_with_intent``: a tuple, or an object with ``hits``/``notices``."""
    if isinstance(result, tuple):
        hits, notices = result
    else:
        hits, notices = result.hits, list(getattr(result, "notices", []) or [])
    return list(hits), list(notices)


def keyword_variant(index: Any, tokenizer: str) -> tuple[Any | None, str | None]:
    """The same catalogue index with another keyword tokenization, or (None, why not)."""
    from finray.retrieval.memory_index import CatalogueIndex

    if "tokenizer" not in inspect.signature(CatalogueIndex.build).parameters:
        return None, "CatalogueIndex.build(..., tokenizer=...) does not exist yet"
    try:
        return CatalogueIndex.build(index.info, list(index.products), index.matrix, tokenizer=tokenizer), None
    except Exception as err:  # noqa: BLE001 - reported, the rest of the run goes on
        return None, f"{type(err).__name__}: {err}"


class InProcess:
    """The library directly: parser, intent search per mode, the advisor service."""

    def __init__(self, home: str, user: str) -> None:
        from finray.agent.service import AdvisorService
        from finray.agent.sources import LocalSources
        from finray.config import load_settings
        from finray.embeddings.factory import build_embedder
        from finray.intent import IntentParser, ProviderDirectory
        from finray.retrieval.memory_index import CatalogueSearch, LiveIndex
        from finray.stores.factory import open_store
        from finray.users.db import create_readonly_engine

        self.user = user
        self.settings = load_settings(FINRAY_HOME=home)
        self.store = open_store(self.settings)
        self.embedder = build_embedder(self.settings, num_threads=os.cpu_count() or 2)
        self.keyword_tokenizer = getattr(self.settings, "keyword_tokenizer", None)
        live_kw: dict[str, Any] = {"start_thread": False}
        if self.keyword_tokenizer and "tokenizer" in inspect.signature(LiveIndex).parameters:
            live_kw["tokenizer"] = self.keyword_tokenizer  # as the Retriever deployment builds it
        self.live = LiveIndex(self.store, **live_kw)
        self.engine = create_readonly_engine(self.settings.resolved_user_db_url)
        self.service = AdvisorService(LocalSources(self.store, self.engine, self.embedder, self.live))
        index = self.live.current
        self.index = index
        self.directory = ProviderDirectory.from_products(index.products)
        self.parser = IntentParser(self.directory)
        self.searcher = CatalogueSearch(index)
        self.notes: list[str] = []
        self.keyword_searchers: dict[str, Any] = {}
        for tok in TOKENIZERS:
            if tok == self.keyword_tokenizer and "tokenizer" in live_kw:
                self.keyword_searchers[tok] = self.searcher  # the serving index already uses it
                continue
            idx, why = keyword_variant(index, tok)
            if idx is None:
                self.notes.append(f"keyword_{tok}: {why}")
            else:
                self.keyword_searchers[tok] = CatalogueSearch(idx)
        self._terms: dict[tuple[str, ...], list[int]] = {}

    def close(self) -> None:
        self.live.close()
        self.engine.dispose()
        close = getattr(self.store, "close", None)
        if close:
            close()

    def _term_pool(self, intent: Any) -> list[int]:
        key = tuple(sorted(t.value for t in intent.product_types))
        if key not in self._terms:
            self._terms[key] = sorted({t for p in self.index.products
                                       if not intent.product_types or p.product_type in intent.product_types
                                       for t in p.terms})
        return self._terms[key]

    def _search(self, searcher: Any, intent: Any, text: str, vector: list[float], mode: str) -> list[str]:
        from finray.advice.pipeline import search_with_intent

        params = inspect.signature(search_with_intent).parameters
        kw: dict[str, Any] = {}
        if "directory" in params:
            kw["directory"] = self.directory
        if "term_pool" in params:
            kw["term_pool"] = self._term_pool(intent)
        result = search_with_intent(searcher, intent, text, vector, self.embedder.name, K_SEARCH, mode, **kw)
        hits, _ = _hits_of(result)
        return [h.product.product_id for h in hits]

    def observe(self, q: Question) -> Observation:
        from finray.agent.service import AdviceRequest
        from finray.stores.base import ProductFilters

        o = Observation()
        try:
            intent = self.parser.parse(q.text)
            vector = self.embedder.embed_queries([q.text])[0].tolist()
            for mode in MODES:
                o.search[mode] = self._search(self.searcher, intent, q.text, vector, mode)
            for tok, searcher in self.keyword_searchers.items():
                o.search[f"keyword_{tok}"] = self._search(searcher, intent, q.text, vector, "keyword")
            for mode in MODES:
                hits = self.searcher.search(q.text, vector, self.embedder.name, ProductFilters(), K_SEARCH, mode)
                o.search[f"{mode}_no_intent"] = [h.product.product_id for h in hits]
        except Exception as err:  # noqa: BLE001 - one question's failure is a finding, not the end
            o.errors.append(f"search: {type(err).__name__}: {str(err)[:200]}")
            intent = None
        try:
            result = self.service.recommend(AdviceRequest(user_id=self.user, question=q.text, k=K_ANSWER))
            o.cited = [(c.product_id, getattr(c, "alternative_note", None)) for c in result.cited]
            o.notices = list(getattr(result, "notices", []) or [])
            answered = getattr(result, "intent", None)
            o.intent = slots_from_intent(answered if answered is not None else intent)
        except Exception as err:  # noqa: BLE001
            o.errors.append(f"advisor: {type(err).__name__}: {str(err)[:200]}")
            if intent is not None:
                o.intent = slots_from_intent(intent)
        return o


def run_in_process(home: str, user: str, questions: Sequence[Question], progress: bool = True) -> tuple[dict[str, Observation], dict[str, Any]]:
    t0 = time.perf_counter()
    local = InProcess(home, user)
    info: dict[str, Any] = {"setup_s": round(time.perf_counter() - t0, 1), "notes": local.notes,
                            "index_embedder": getattr(local.index.info, "embedder", None),
                            "indexed_products": len(local.index), "keyword_tokenizer_default": local.keyword_tokenizer}
    obs: dict[str, Observation] = {}
    t1 = time.perf_counter()
    try:
        for i, q in enumerate(questions, 1):
            obs[q.qid] = local.observe(q)
            if progress and i % 20 == 0:
                print(f"  in-process {i}/{len(questions)}", file=sys.stderr)
    finally:
        local.close()
    info["seconds"] = round(time.perf_counter() - t1, 1)
    return obs, info


# --------------------------------------------------------------------------------------------
# Serve run (HTTP)
# --------------------------------------------------------------------------------------------
class HttpError(RuntimeError):
    pass


class HttpClient:
    """One signed-in demo user; retries 429 after the server's Retry-After."""

    def __init__(self, url: str, user: str) -> None:
        import httpx

        self.url, self.user = url, user
        self.client = httpx.AsyncClient(base_url=url, timeout=120)
        self.access = self.refresh = ""
        self.expires = 0.0

    async def sign_in(self) -> None:
        r = await self.client.post("/api/v1/auth/dev-login", json={"user_id": self.user})
        if r.status_code != 200:
            hint = " (is AUTH_DEV_LOGIN=true on the deployment?)" if r.status_code == 403 else ""
            raise HttpError(f"dev login as {self.user}: HTTP {r.status_code}: {r.text[:200]}{hint}")
        self._take(r.json())

    def _take(self, body: dict[str, Any]) -> None:
        self.access, self.refresh = body["access_token"], body["refresh_token"]
        self.expires = time.monotonic() + float(body.get("expires_in", 900))

    async def _headers(self) -> dict[str, str]:
        if time.monotonic() > self.expires - 60:
            r = await self.client.post("/api/v1/auth/refresh", json={"refresh_token": self.refresh})
            if r.status_code == 200:
                self._take(r.json())
            else:
                await self.sign_in()
        return {"Authorization": f"Bearer {self.access}"}

    async def _send(self, method: str, path: str, **kw: Any) -> Any:
        for _ in range(6):
            r = await self.client.request(method, path, headers=await self._headers(), **kw)
            if r.status_code == 429:
                await asyncio.sleep(min(30.0, float(r.headers.get("Retry-After", "2") or 2)))
                continue
            if r.status_code != 200:
                raise HttpError(f"{method} {path}: HTTP {r.status_code}: {r.text[:200]}")
            return r
        raise HttpError(f"{method} {path}: still rate-limited after 6 tries")

    async def search(self, q: str, mode: str) -> dict[str, Any]:
        r = await self._send("GET", "/api/v1/products/search", params={"q": q, "mode": mode, "k": K_SEARCH})
        return r.json()

    async def chat(self, q: str) -> dict[str, Any]:
        r = await self._send("POST", "/api/v1/chat/stream", json={"user_id": self.user, "question": q, "k": K_ANSWER})
        events = sse.parse(r.text)
        for name, data in events:
            if name == "error":
                raise HttpError(f"chat stream error: {data}")
        done = [d for n, d in events if n == "done"]
        if not done:
            raise HttpError("chat stream ended without a done event")
        return done[-1]

    async def close(self) -> None:
        await self.client.aclose()


async def _serve_observations(url: str, user: str, questions: Sequence[Question], progress: bool) -> dict[str, Observation]:
    client = HttpClient(url, user)
    await client.sign_in()
    obs: dict[str, Observation] = {}
    try:
        for i, q in enumerate(questions, 1):
            o = Observation()
            search_intent = None
            for mode in MODES:
                try:
                    body = await client.search(q.text, mode)
                    o.search[mode] = [h["product_id"] for h in body.get("hits", [])]
                    if mode == "hybrid":
                        search_intent = body.get("intent")
                except Exception as err:  # noqa: BLE001
                    o.errors.append(f"search {mode}: {type(err).__name__}: {str(err)[:200]}")
            try:
                done = await client.chat(q.text)
                o.cited = [(c["product_id"], c.get("alternative_note")) for c in done.get("cited", [])]
                o.notices = list(done.get("notices") or [])
                intent = done.get("intent") or search_intent
                o.intent = slots_from_intent(intent) if intent is not None else None
            except Exception as err:  # noqa: BLE001
                o.errors.append(f"chat: {type(err).__name__}: {str(err)[:200]}")
                if search_intent is not None:
                    o.intent = slots_from_intent(search_intent)
            obs[q.qid] = o
            if progress and i % 20 == 0:
                print(f"  serve {i}/{len(questions)}", file=sys.stderr)
    finally:
        await client.close()
    return obs


def run_serve(url: str, user: str, questions: Sequence[Question], progress: bool = True) -> tuple[dict[str, Observation], dict[str, Any]]:
    import httpx

    t = time.perf_counter()
    status = httpx.get(url + "/", timeout=30).json()
    obs = asyncio.run(_serve_observations(url, user, questions, progress))
    catalogue = status.get("catalogue", {}) if isinstance(status, dict) else {}
    return obs, {"url": url, "seconds": round(time.perf_counter() - t, 1),
                 "indexed_products": catalogue.get("indexed"), "index_embedder": catalogue.get("index_embedder")}


# --------------------------------------------------------------------------------------------
# FINRAY_HOME, Ray and Serve
# --------------------------------------------------------------------------------------------
def start_ray() -> None:
    """A local Ray of our own (never a cluster someone else started on this machine)."""
    import ray

    if ray.is_initialized():
        return
    from data_jobs.runtime import FORWARDED_ENV_PREFIXES

    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
    ray.init(address="local", num_cpus=os.cpu_count() or 2, include_dashboard=False, log_to_driver=False,
             logging_level="WARNING", runtime_env={"env_vars": env} if env else None)
    ray.data.DataContext.get_current().enable_progress_bars = False


def prepare_home(home: Path, n_users: int) -> dict[str, Any]:
    """Fill a scratch FINRAY_HOME like ``make jobs``: demo users, the bundled catalogue, its vectors."""
    os.environ["FINRAY_HOME"] = str(home)
    os.environ.setdefault("FINRAY_PROGRESS", "0")
    from data_jobs import collect_products, embed_products
    from finray.config import load_settings
    from finray.users.demo import seed_demo_users

    home.mkdir(parents=True, exist_ok=True)
    settings = load_settings(FINRAY_HOME=str(home))
    t = time.perf_counter()
    seed_demo_users(settings.resolved_user_db_url, n_users, seed=42)
    start_ray()
    collected = collect_products.run(settings)
    embedded = embed_products.run(settings)
    for job in (collected, embedded):
        if getattr(job, "error", None):
            raise RuntimeError(f"{job.job}: {job.error}")
    return {"prepare_s": round(time.perf_counter() - t, 1), "collect": collected.counts, "embed": embedded.counts}


def pick_user(home: str) -> tuple[str, int]:
    """The demo user with the highest 투자성향 (ties: lowest id)."""
    from sqlalchemy import select

    from finray.config import load_settings
    from finray.users.db import USERS, create_readonly_engine

    engine = create_readonly_engine(load_settings(FINRAY_HOME=home).resolved_user_db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(USERS.c.user_id, USERS.c.risk_profile).order_by(USERS.c.risk_profile.desc(), USERS.c.user_id).limit(1)
            ).first()
    finally:
        engine.dispose()
    if row is None:
        raise SystemExit(f"no users in {home}: run `make jobs` (or let this script prepare a scratch home)")
    return str(row[0]), int(row[1])


def store_catalogue(home: str) -> list[Any]:
    from finray.config import load_settings
    from finray.stores.factory import open_store

    store = open_store(load_settings(FINRAY_HOME=home))
    try:
        return list(store.catalogue())
    finally:
        close = getattr(store, "close", None)
        if close:
            close()


def start_serve(home: str) -> str:
    start_ray()
    return run_app(home, "finray-advice-bench", ready_timeout_s=120)


def stop_ray() -> None:
    import ray

    if not ray.is_initialized():
        return
    try:
        from ray import serve

        serve.shutdown()
    except Exception:  # noqa: BLE001 - Serve may never have started
        pass
    ray.shutdown()


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def git_sha() -> str | None:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return (sha + ("-dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def agreement(a: dict[str, Observation], b: dict[str, Observation]) -> dict[str, float | None]:
    """Share of questions on which two runs saw the same thing (cited ids, hybrid top 10, intent)."""
    both = [q for q in a if q in b]

    def share(same: Any) -> float | None:
        return mean(1.0 if same(a[q], b[q]) else 0.0 for q in both) if both else None

    return {
        "cited_identical": share(lambda x, y: [c[0] for c in x.cited or []] == [c[0] for c in y.cited or []]),
        "hybrid_top10_identical": share(lambda x, y: x.search.get("hybrid") == y.search.get("hybrid")),
        "intent_identical": share(lambda x, y: x.intent == y.intent),
    }


TOP_KEYS = ("constraint_satisfaction", "rate_regret_pp", "ndcg10_hybrid", "ndcg10_vector", "ndcg10_keyword",
            "type_precision10", "slot_accuracy", "n_questions")


def assemble(info: dict[str, Any], questions: Sequence[Question], runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    main = "serve" if "serve" in runs else "in_process"
    top = runs[main]
    doc: dict[str, Any] = {"run": main}
    for key in TOP_KEYS:
        doc[key] = top.get(key)
    for tok in TOKENIZERS:  # only the in-process run can switch tokenizers
        doc[f"ndcg10_keyword_{tok}"] = runs.get("in_process", {}).get(f"ndcg10_keyword_{tok}")
    doc["slot_accuracy_by_slot"] = top.get("slot_accuracy_by_slot")
    doc["targets"] = targets(top)
    doc["failures"] = top.get("failures", [])
    doc["questions_per_kind"] = kinds(questions)
    doc["rate_questions"] = sum(1 for q in questions if q.rate_term is not None)
    doc["type_level_questions"] = sum(1 for q in questions if q.type_level)
    doc["none_available_questions"] = sum(1 for q in questions if q.expect_none)
    for name, m in runs.items():
        doc[name] = {k: v for k, v in m.items() if k != "failures"} | {"targets": targets(m)}
        if name != main:
            doc[name]["failures"] = m.get("failures", [])
    doc.update(info)
    doc["git_sha"] = git_sha()
    doc["date"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return doc


def _f(x: Any, digits: int = 3) -> str:
    return "—" if x is None else (f"{x:.{digits}f}" if isinstance(x, float) else str(x))


def section(doc: dict[str, Any]) -> str:
    runs = [r for r in ("in_process", "serve") if r in doc]
    rows = [
        ("constraint satisfaction (k=5)", "constraint_satisfaction", 3),
        ("rate regret, %p (best 3 − cited)", "rate_regret_pp", 3),
        ("nDCG@10 hybrid", "ndcg10_hybrid", 3),
        ("nDCG@10 vector", "ndcg10_vector", 3),
        ("nDCG@10 keyword (deployment's tokenizer)", "ndcg10_keyword", 3),
        ("nDCG@10 keyword, bigram", "ndcg10_keyword_bigram", 3),
        ("nDCG@10 keyword, morpheme", "ndcg10_keyword_morpheme", 3),
        ("nDCG@10 hybrid, no intent (plain search)", "ndcg10_hybrid_no_intent", 3),
        ("type precision@10 (hybrid)", "type_precision10", 3),
        ("slot accuracy (7 slots)", "slot_accuracy", 3),
        ("slot accuracy, informative pairs", "slot_accuracy_informative", 3),
        ("cited products / marked alternatives", None, 0),
        ("empty answers / errors", None, 0),
    ]
    head = "| metric | " + " | ".join(r.replace("_", "-") for r in runs) + " |"
    lines = [
        SECTION, "",
        f"Run {doc['date'].replace('T', ' ').replace('Z', ' UTC')} on {doc['cpu']} ({doc['cores']} cores), Python {doc['python']}; load average "
        f"{doc['load_before']} before and {doc['load_after']} after (1/5/15 min, shared machine). "
        f"`{doc['command']}`; git {doc['git_sha']}. Data: {doc['data']}. Answers for {doc['user']}.",
        "",
        f"{doc['n_questions']} questions generated by rule from the catalogue (`bench/advice_questions.py`): "
        + ", ".join(f"{k} {v}" for k, v in doc["questions_per_kind"].items())
        + f"; {doc['rate_questions']} rate questions, {doc['type_level_questions']} type-level wishes, "
        f"{doc['none_available_questions']} with no satisfying product. Definitions: `bench/advice_quality.py`.",
        "",
        head, "|---|" + "---|" * len(runs),
    ]
    for label, key, digits in rows:
        cells = []
        for r in runs:
            m = doc[r]
            if key is None and label.startswith("cited"):
                cells.append(f"{m.get('cited_products')} / {m.get('marked_alternatives')}")
            elif key is None:
                cells.append(f"{m.get('empty_answers')} / {m.get('errors')}")
            else:
                cells.append(_f(m.get(key), digits))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", f"### Targets ({doc['run'].replace('_', '-')} run)", ""]
    for name, t in doc["targets"].items():
        verdict = "—" if t["met"] is None else ("met" if t["met"] else "missed")
        lines.append(f"- {t['target']} ({name}): **{_f(t['value'])}** — {verdict}")
    top = doc[doc["run"]]
    lines += ["", "Slot accuracy per slot: " + ", ".join(f"{s} {v:.3f}" for s, v in (top.get("slot_accuracy_by_slot") or {}).items()) + "."]
    plain = top.get("ndcg10_without_objective") or {}
    if plain:
        lines.append(f"nDCG@10 on the {top.get('search_questions_without_objective')} search questions without an objective "
                     "(relevance orders; with one, every mode is sorted by the objective's figure): "
                     + ", ".join(f"{m} {v:.3f}" for m, v in plain.items()) + ".")
    by_kind = top.get("constraint_satisfaction_by_kind") or {}
    if by_kind:
        lines.append("Constraint satisfaction per kind: " + ", ".join(f"{k} {v:.3f}" for k, v in by_kind.items()) + ".")
    fails = Counter(f["metric"] for f in doc.get("failures", []))
    if fails:
        out = doc.get("out") or f"bench/results/{NAME}.json"
        try:
            out = str(Path(out).resolve().relative_to(ROOT))
        except ValueError:
            pass
        lines.append(f"Failures recorded in `{out}` (capped, per question: expected vs got): "
                     + ", ".join(f"{k} {v}" for k, v in fails.most_common()) + ".")
    agree = doc.get("agreement")
    if agree:
        lines.append("In-process vs Serve, share of questions with identical results: "
                     + ", ".join(f"{k.replace('_', ' ')} {_f(v)}" for k, v in agree.items()) + ".")
    notes = doc.get("in_process", {}).get("notes") or []
    if notes:
        lines.append("Notes: " + "; ".join(notes) + ".")
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of RESULTS.md (up to the next ``## ``), or append it."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    start = old.find(SECTION + "\n")
    if start == -1:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + ("\n" + old[nxt + 1:] if nxt != -1 else "")
    path.write_text(new, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", help="a filled FINRAY_HOME (default: prepare a scratch one)")
    ap.add_argument("--keep-home", action="store_true", help="keep the scratch FINRAY_HOME (its path is printed)")
    ap.add_argument("--url", help="ask this running deployment instead of starting Serve here")
    ap.add_argument("--skip-serve", action="store_true", help="in-process run only")
    ap.add_argument("--skip-in-process", action="store_true", help="Serve run only")
    ap.add_argument("--user", help="answer for this user (default: highest 투자성향 in the user DB)")
    ap.add_argument("--users", type=int, default=50, help="demo users seeded into a scratch home")
    ap.add_argument("--limit", type=int, help="only the first N questions (smoke runs)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / f"{NAME}.json", help="JSON results")
    ap.add_argument("--results", type=Path, help="write the section into this RESULTS.md")
    args = ap.parse_args(argv)
    if args.skip_serve and args.skip_in_process:
        ap.error("nothing to run")
    if args.url and not args.home and not args.user:
        ap.error("--url needs --user, or --home of the deployment's data to pick one")

    load_before = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    scratch: Path | None = None
    info: dict[str, Any] = {**machine(), "load_before": load_before,
                            "command": "python bench/advice_quality.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    runs: dict[str, dict[str, Any]] = {}
    observed: dict[str, dict[str, Observation]] = {}
    started_serve = False
    try:
        home: str | None = None
        if args.home:
            home = str(Path(args.home).resolve())
            os.environ["FINRAY_HOME"] = home
        elif not (args.url and args.skip_in_process):
            scratch = Path(tempfile.mkdtemp(prefix="finray-advice-bench-"))
            home = str(scratch / "home")
            print(f"preparing scratch FINRAY_HOME {home} …", file=sys.stderr)
            info["prepare"] = prepare_home(Path(home), args.users)
        user, risk = (args.user, None) if args.user or home is None else pick_user(home)
        info["user"] = f"{user} (투자성향 {risk})" if risk else user

        # labels: the bundled catalogue as collect_products loads it; the store's when they differ
        bundled = Catalogue.bundled()
        stored = Catalogue.of(store_catalogue(home)) if home is not None else bundled
        same = {p.product_id: p.content_hash for p in bundled.products} == {p.product_id: p.content_hash for p in stored.products}
        cat = bundled if same else stored
        info["labels_from"] = ("the bundled snapshot, identical to the store's active catalogue" if same
                               else "the store's active catalogue, which differs from the bundled snapshot")
        questions = generate(cat)
        if args.limit:
            questions = questions[: args.limit]
        info["load_before"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())  # after any preparation
        info["data"] = f"{len(cat.products):,} active products, labels from {info['labels_from']}"
        if "prepare" in info:
            info["data"] += (f"; a scratch FINRAY_HOME filled here ({args.users} demo users, collect_products + "
                             f"embed_products in {info['prepare']['prepare_s']:.0f} s)")

        if not args.skip_in_process:
            print(f"in-process run: {len(questions)} questions …", file=sys.stderr)
            assert home is not None
            obs, meta = run_in_process(home, user, questions)
            runs["in_process"] = evaluate(questions, cat, obs) | meta
            observed["in_process"] = obs
        if not args.skip_serve:
            url = args.url
            if not url:
                print("starting Serve …", file=sys.stderr)
                assert home is not None
                url = start_serve(home)
                started_serve = True
            print(f"Serve run against {url} …", file=sys.stderr)
            obs, meta = run_serve(url, user, questions)
            runs["serve"] = evaluate(questions, cat, obs) | meta
            observed["serve"] = obs
    finally:
        if started_serve or scratch is not None:
            stop_ray()
        if scratch is not None and not args.keep_home:
            shutil.rmtree(scratch, ignore_errors=True)
        elif scratch is not None:
            print(f"kept {scratch}", file=sys.stderr)
    info["load_after"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    if len(observed) == 2:
        info["agreement"] = agreement(observed["in_process"], observed["serve"])
    info["out"] = str(args.out)
    doc = assemble(info, questions, runs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    text = section(doc)
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)
    if args.results:
        write_section(args.results, text)
        print(f"wrote {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
