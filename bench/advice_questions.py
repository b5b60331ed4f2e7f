"""Labelled Korean questions for ``bench/advice_quality.py``, derived by rule from the catalogue.

Nothing here is a hand-picked expected result. Every question is a template whose slots are
filled from the catalogue by a deterministic rule, and it carries

* its **expected slots** (:class:`Slots`: what a correct reading of the text gives — product
  types, term, amount and period, providers as *catalogue* names, provider classes, eligibility,
  objectives), written down from the template and the slot values put into it, never from the
  parser's output; and
* its **constraint rule** (:class:`Constraints`: a plain predicate over a
  :class:`~finray.products.model.Product`, written here) — the products that answer the
  question are exactly the catalogue products for which it holds.

This module imports neither the parser nor the advisor, so the labels cannot drift towards what
the system under test does. It needs only the bundled catalogue, loaded the way the
``collect_products`` job loads it in snapshot mode (:func:`finray.products.snapshot.load_snapshot`).

Rules (each question kind; the counts follow from the catalogue):

* ``term_rate`` — for deposit and saving, every standard term (6/12/24/36) that at least one
  product of that type offers, once per phrasing of the term (:data:`TERM_PHRASES`: "12개월",
  "1년", "1년짜리", "일년", …), rotating over four "highest rate" templates and two words per type.
* ``provider`` — the 6 providers with the most deposits and savings (ties by name), each with
  its main type (more products; ties → deposit) and the standard term most of those products
  offer (ties → 12, 24, 6, 36); even ones ask for the best rate at that term, odd ones just ask.
* ``provider_alias`` — names customers write that differ from the catalogue's
  (:data:`PROVIDER_ALIASES`: "KB국민은행" → "국민은행", "카카오뱅크" → "주식회사 카카오뱅크",
  "하나은행" → "하나은행"/"주식회사 하나은행", "기업은행" → "중소기업은행", …) plus names that must
  *not* become a bank ("우리금융저축은행", "KB저축은행" → "케이비저축은행"); the expected providers
  are the alias targets present in the catalogue.
* ``none_available`` — for each alias provider and type, the first standard term (in the order
  36, 24, 6, 12) none of its products of that type offers: the right answer is "none", so cited
  products must be marked as alternatives. Youth-term and loan-type questions can also be "none"
  (flagged the same way: :attr:`Question.expect_none`).
* ``amount`` — deposits with a one-off amount ("3천만원", "500만 원", "5천만원", "1억 원") and
  savings with a monthly one ("월 50만원", "매달 30만원", "월 100만원"), each with a term; the
  constraint is ``max_limit is None or max_limit >= amount`` (a saving's limit is per month).
* ``eligibility`` — 청년: the products whose name, join_member or preferential conditions say
  "청년", or whose join_member caps the age at ≤ 39 (:func:`is_youth`), per standard term.
* ``provider_class`` — 저축은행 (provider name ends in 저축은행) and 인터넷은행 (카카오뱅크,
  케이뱅크, 토스뱅크 in the name).
* ``objective`` — 세액공제 (→ annuity), 위험 낮은/안전한, 원금 손실 없는 on a named type.
* ``category`` — fund categories with ≥ 30 products ("채권형 펀드" must be 채권형), the two
  연금저축 kinds, 배당 funds.
* ``loan`` — credit loans: lowest rate, per provider, 마이너스통장; 주택담보대출/전세자금대출
  have no product in the bundled catalogue (``expect_none``).
* ``type_intent`` — wishes that name no product ("목돈을 맡기고 이자 받고 싶어요" → deposit, "매달
  조금씩 모으고 싶어요" → saving, "급하게 돈이 필요해서 빌리고 싶어요" → credit_loan, "노후 대비
  세액공제" → annuity, "원금 손실 위험이 거의 없는 안전한 상품" → deposit/saving, "투자해서
  수익" → fund): the constraint is only the type; these feed ``type_precision10``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from finray.products.model import Product

DEPOSIT, SAVING, ANNUITY, FUND = "deposit", "saving", "annuity", "fund"
CREDIT_LOAN, MORTGAGE_LOAN, RENT_LOAN = "credit_loan", "mortgage_loan", "rent_loan"
ALL_TYPES = (DEPOSIT, SAVING, ANNUITY, FUND, CREDIT_LOAN, MORTGAGE_LOAN, RENT_LOAN)

#: Objectives and other enum values, spelled as :mod:`finray.intent.model` spells them.
HIGHEST_RATE, LOWEST_RATE, LOWEST_RISK = "highest_rate", "lowest_rate", "lowest_risk"
PRINCIPAL_PROTECTED, TAX_BENEFIT, INCOME = "principal_protected", "tax_benefit", "income"
YOUTH = "youth"
SAVINGS_BANK, INTERNET_BANK = "savings_bank", "internet_bank"

STANDARD_TERMS = (6, 12, 24, 36)
#: Several ways to write each term; every phrasing becomes its own question.
TERM_PHRASES: dict[int, tuple[str, ...]] = {
    6: ("6개월", "반년", "6개월짜리"),
    12: ("12개월", "1년", "1년짜리", "일년"),
    24: ("24개월", "2년 동안", "24개월 만기", "2년"),
    36: ("36개월", "3년", "3년 만기", "3년짜리"),
}
TYPE_WORDS = {DEPOSIT: ("정기예금", "예금"), SAVING: ("적금", "정기적금")}
TYPE_KO = {DEPOSIT: "정기예금", SAVING: "적금"}

#: What customers write → the catalogue names it means (public facts: each bank's official and
#: brand names). Targets absent from the catalogue are dropped; a name with none left is skipped.
PROVIDER_ALIASES: dict[str, tuple[str, ...]] = {
    "KB국민은행": ("국민은행",),
    "국민은행": ("국민은행",),
    "카카오뱅크": ("주식회사 카카오뱅크",),
    "하나은행": ("하나은행", "주식회사 하나은행"),
    "우리은행": ("우리은행",),  # must not take 우리금융저축은행 / 우리저축은행
    "기업은행": ("중소기업은행",),
    "IBK기업은행": ("중소기업은행",),
    "토스뱅크": ("토스뱅크 주식회사",),
    "SC제일은행": ("한국스탠다드차타드은행",),
    # savings banks whose names contain a bank's name: they are themselves, not the bank
    "우리금융저축은행": ("우리금융저축은행",),
    "KB저축은행": ("케이비저축은행",),
}
#: Providers whose identity the bundled catalogue splits (대구은행 was renamed iM뱅크 in 2024;
#: the 2024 fixture says 대구은행, the 2026 files 아이엠뱅크): a question naming one of them has no
#: single right provider set, so the rules never pick them.
AMBIGUOUS_PROVIDERS = frozenset({"대구은행", "아이엠뱅크"})
INTERNET_BANK_MARKS = ("카카오뱅크", "케이뱅크", "토스뱅크")

_AGE_RANGE_RE = re.compile(r"(\d{1,2})\s*세?\s*[~∼\-]\s*(?:만\s*)?(\d{2})\s*세")
_AGE_CAP_RE = re.compile(r"(\d{2})\s*세\s*이하")


# --------------------------------------------------------------------------------------------
# rules over one product
# --------------------------------------------------------------------------------------------
def is_savings_bank(provider: str) -> bool:
    return provider.endswith("저축은행")


def is_internet_bank(provider: str) -> bool:
    return any(m in provider for m in INTERNET_BANK_MARKS)


PROVIDER_CLASS_RULES: dict[str, Callable[[str], bool]] = {
    SAVINGS_BANK: is_savings_bank,
    INTERNET_BANK: is_internet_bank,
}


def is_youth(p: Product) -> bool:
    """청년 products: "청년" in name, join_member or 우대조건, or join_member admits adults up to 39 only
    ("만20~39세", "만 29세 이하"; an age range must start at 17 or later — 1~19세 is a children's product)."""
    if any("청년" in (x or "") for x in (p.name, p.join_member, p.preferential_conditions)):
        return True
    join = p.join_member or ""
    if (m := _AGE_RANGE_RE.search(join)) and 17 <= int(m.group(1)) and int(m.group(2)) <= 39:
        return True
    return bool((m := _AGE_CAP_RE.search(join)) and 19 <= int(m.group(1)) <= 39)


def rate_at(p: Product, term: int) -> float | None:
    """최고금리 at ``term``: the best of the product's rate rows for that term, each row's
    ``max_rate`` (최고우대금리) or, without one, its ``base_rate``; None when the term is not offered."""
    vals = [r.max_rate if r.max_rate is not None else r.base_rate for r in p.rates if r.term_months == term]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


@dataclass(frozen=True)
class Constraints:
    """The explicit constraints of a question, as a predicate over a product (``c(product)``).

    Empty fields constrain nothing. ``category``: the product's category equals it, or, ending
    in "*", starts with it. ``words``: one of them appears in name, category or description.
    """

    types: frozenset[str] = frozenset()
    term_months: int | None = None
    providers: frozenset[str] = frozenset()
    provider_classes: frozenset[str] = frozenset()
    amount_krw: int | None = None
    youth: bool = False
    category: str | None = None
    words: tuple[str, ...] = ()

    def violations(self, p: Product) -> list[str]:
        """Why ``p`` does not answer the question ([] when it does)."""
        out = []
        if self.types and p.product_type.value not in self.types:
            out.append(f"type {p.product_type.value} not in {sorted(self.types)}")
        if self.term_months is not None and self.term_months not in p.terms:
            out.append(f"no {self.term_months}-month term (has {list(p.terms)})")
        if self.providers and p.provider not in self.providers:
            out.append(f"provider {p.provider} not in {sorted(self.providers)}")
        if self.provider_classes and not any(PROVIDER_CLASS_RULES[c](p.provider) for c in self.provider_classes):
            out.append(f"provider {p.provider} not of class {sorted(self.provider_classes)}")
        if self.amount_krw is not None and p.max_limit is not None and p.max_limit < self.amount_krw:
            out.append(f"max_limit {p.max_limit:,} < {self.amount_krw:,}")
        if self.youth and not is_youth(p):
            out.append("not a 청년 product")
        if self.category is not None:
            cat = p.category or ""
            ok = cat.startswith(self.category[:-1]) if self.category.endswith("*") else cat == self.category
            if not ok:
                out.append(f"category {cat or '-'} is not {self.category}")
        if self.words and not any(w in (x or "") for w in self.words for x in (p.name, p.category, p.description)):
            out.append(f"none of {list(self.words)} in name/category/description")
        if not p.is_active:
            out.append("discontinued")
        return out

    def __call__(self, p: Product) -> bool:
        return not self.violations(p)

    def describe(self) -> dict[str, Any]:
        return {k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in self.__dict__.items() if v not in (None, False, (), frozenset())}


SLOT_NAMES = ("product_types", "term_months", "amount", "providers", "provider_classes", "eligibility", "objectives")


@dataclass(frozen=True)
class Slots:
    """What a correct reading of the question gives (values as :class:`~finray.intent.QueryIntent` spells them)."""

    product_types: frozenset[str] = frozenset()
    term_months: int | None = None
    amount: tuple[int, str] | None = None  # (원, "once" | "monthly")
    providers: frozenset[str] = frozenset()  # catalogue names
    provider_classes: frozenset[str] = frozenset()
    eligibility: frozenset[str] = frozenset()
    objectives: frozenset[str] = frozenset()

    def value(self, slot: str) -> Any:
        v = getattr(self, slot)
        if isinstance(v, frozenset):
            return sorted(v)
        if isinstance(v, tuple):
            return list(v)
        return v

    def as_dict(self) -> dict[str, Any]:
        return {s: self.value(s) for s in SLOT_NAMES}


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    kind: str
    slots: Slots
    constraints: Constraints
    type_level: bool = False  # names no product; judged by type precision
    expect_none: bool = False  # no catalogue product satisfies it (the generator's own reasoning)

    @property
    def rate_term(self) -> int | None:
        """The term of a rate question (deposit/saving, highest rate, a term), else None."""
        s = self.slots
        if HIGHEST_RATE in s.objectives and s.term_months and s.product_types and s.product_types <= {DEPOSIT, SAVING}:
            return s.term_months
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "qid": self.qid, "text": self.text, "kind": self.kind, "slots": self.slots.as_dict(),
            "constraints": self.constraints.describe(), "type_level": self.type_level, "expect_none": self.expect_none,
        }


# --------------------------------------------------------------------------------------------
# the catalogue
# --------------------------------------------------------------------------------------------
@dataclass
class Catalogue:
    """Active products; who satisfies what."""

    products: tuple[Product, ...]

    @classmethod
    def bundled(cls) -> Catalogue:
        """The bundled snapshot, parsed and deduplicated as ``collect_products`` does in snapshot mode."""
        from finray.products.snapshot import load_snapshot

        return cls.of(p for r in load_snapshot().values() for p in r.products)

    @classmethod
    def of(cls, products: Iterable[Product]) -> Catalogue:
        return cls(tuple(sorted((p for p in products if p.is_active), key=lambda p: p.product_id)))

    @cached_property
    def by_id(self) -> dict[str, Product]:
        return {p.product_id: p for p in self.products}

    @cached_property
    def providers(self) -> frozenset[str]:
        return frozenset(p.provider for p in self.products)

    def of_type(self, *types: str) -> list[Product]:
        return [p for p in self.products if p.product_type.value in types]

    def satisfying(self, c: Constraints) -> list[Product]:
        return [p for p in self.products if c(p)]

    def terms_offered(self, products: Iterable[Product]) -> set[int]:
        return {t for p in products for t in p.terms}


def constraints_for(slots: Slots, **extra: Any) -> Constraints:
    """The binding constraints a question's slots state (objectives never constrain)."""
    return Constraints(
        types=slots.product_types,
        term_months=slots.term_months,
        providers=slots.providers,
        provider_classes=slots.provider_classes,
        amount_krw=slots.amount[0] if slots.amount else None,
        youth=YOUTH in slots.eligibility,
        **extra,
    )


def _fs(*xs: str) -> frozenset[str]:
    return frozenset(xs)


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------
RATE_TEMPLATES = (
    "{term} {type} 중 금리가 가장 높은 상품 추천해 주세요",
    "{type} {term} 금리 높은 곳 알려 줘",
    "{term} {type} 최고금리 높은 순으로 보여 주세요",
    "{type} {term} 이자 제일 많이 주는 데가 어디예요?",
)
_TERM_PREFERENCE = (12, 24, 6, 36)  # tie-break when a provider's products offer several terms equally


class _Builder:
    def __init__(self, cat: Catalogue) -> None:
        self.cat = cat
        self.out: list[Question] = []
        self.n: Counter[str] = Counter()

    def add(self, kind: str, text: str, slots: Slots, *, type_level: bool = False, expect_none: bool = False,
            **extra: Any) -> None:
        self.n[kind] += 1
        self.out.append(Question(
            qid=f"{kind}-{self.n[kind]:02d}", text=text, kind=kind, slots=slots,
            constraints=constraints_for(slots, **extra), type_level=type_level, expect_none=expect_none,
        ))

    # --- helpers over the catalogue ----------------------------------------------------------
    def at(self, providers: Iterable[str], ptype: str) -> list[Product]:
        ps = set(providers)
        return [p for p in self.cat.of_type(ptype) if p.provider in ps]

    def main_type(self, providers: Iterable[str]) -> str:
        ps = list(providers)
        n_dep, n_sav = len(self.at(ps, DEPOSIT)), len(self.at(ps, SAVING))
        return SAVING if n_sav > n_dep else DEPOSIT

    def usual_term(self, products: Sequence[Product]) -> int | None:
        counts = Counter(t for p in products for t in p.terms if t in STANDARD_TERMS)
        if not counts:
            return None
        return max(_TERM_PREFERENCE, key=lambda t: (counts.get(t, 0), -_TERM_PREFERENCE.index(t)))

    def resolve(self, written: str) -> frozenset[str]:
        return frozenset(t for t in PROVIDER_ALIASES.get(written, (written,)) if t in self.cat.providers)


def generate(cat: Catalogue | None = None) -> list[Question]:
    """All benchmark questions for ``cat`` (default: the bundled catalogue), in a fixed order."""
    cat = cat or Catalogue.bundled()
    b = _Builder(cat)
    _term_rate(b)
    _providers(b)
    _aliases(b)
    _none_available(b)
    _amounts(b)
    _youth(b)
    _classes(b)
    _objectives(b)
    _categories(b)
    _loans(b)
    _type_intents(b)
    return b.out


def _term_rate(b: _Builder) -> None:
    i = 0
    for ptype in (DEPOSIT, SAVING):
        offered = b.cat.terms_offered(b.cat.of_type(ptype))
        for term in STANDARD_TERMS:
            if term not in offered:
                continue
            for phrase in TERM_PHRASES[term]:
                text = RATE_TEMPLATES[i % len(RATE_TEMPLATES)].format(term=phrase, type=TYPE_WORDS[ptype][i % 2])
                b.add("term_rate", text, Slots(product_types=_fs(ptype), term_months=term, objectives=_fs(HIGHEST_RATE)))
                i += 1


def _providers(b: _Builder) -> None:
    counts = Counter(p.provider for p in b.cat.of_type(DEPOSIT, SAVING) if p.provider not in AMBIGUOUS_PROVIDERS)
    top = sorted(counts, key=lambda name: (-counts[name], name))[:6]
    for i, name in enumerate(top):
        ptype = b.main_type([name])
        term = b.usual_term(b.at([name], ptype))
        if i % 2 == 0 and term is not None:
            b.add("provider", f"{name} {TYPE_KO[ptype]} {TERM_PHRASES[term][0]} 상품 중 금리 높은 거 추천해 주세요",
                  Slots(product_types=_fs(ptype), term_months=term, providers=_fs(name), objectives=_fs(HIGHEST_RATE)))
        else:
            b.add("provider", f"{name} {TYPE_KO[ptype]} 상품 알려 주세요", Slots(product_types=_fs(ptype), providers=_fs(name)))


def _aliases(b: _Builder) -> None:
    for i, written in enumerate(PROVIDER_ALIASES):
        targets = b.resolve(written)
        if not targets:
            continue
        ptype = b.main_type(targets)
        word = TYPE_WORDS[ptype][i % 2]
        term = b.usual_term(b.at(targets, ptype))
        if i % 2 == 1 and term is not None:
            phrase = TERM_PHRASES[term][1 % len(TERM_PHRASES[term])]
            b.add("provider_alias", f"{written} {word} 중 {phrase} 금리 높은 거 알려 줘",
                  Slots(product_types=_fs(ptype), term_months=term, providers=targets, objectives=_fs(HIGHEST_RATE)))
        else:
            b.add("provider_alias", f"{written} {word} 추천해 주세요", Slots(product_types=_fs(ptype), providers=targets))


def _none_available(b: _Builder) -> None:
    seen: set[frozenset[str]] = set()
    for written in PROVIDER_ALIASES:
        targets = b.resolve(written)
        if not targets or targets in seen:
            continue
        seen.add(targets)
        for ptype in (DEPOSIT, SAVING):
            own = b.at(targets, ptype)
            if not own:
                continue
            offered = b.cat.terms_offered(own)
            missing = next((t for t in (36, 24, 6, 12) if t not in offered), None)
            if missing is None:
                continue
            b.add("none_available", f"{written} {TYPE_KO[ptype]} {TERM_PHRASES[missing][0]} 상품 있나요?",
                  Slots(product_types=_fs(ptype), term_months=missing, providers=targets), expect_none=True)


def _amounts(b: _Builder) -> None:
    once = (("3천만원", 30_000_000, 12), ("500만 원", 5_000_000, 6), ("5천만원", 50_000_000, 24), ("1억 원", 100_000_000, 36))
    for i, (written, krw, term) in enumerate(once):
        phrase = TERM_PHRASES[term][1]
        if i % 2 == 0:
            text = f"{written}을 {phrase} 정기예금에 넣으려고 해요. 금리 높은 곳 추천해 주세요"
            objectives = _fs(HIGHEST_RATE)
        else:
            text = f"{written}으로 {phrase} 예금 들 만한 상품 있을까요?"
            objectives = frozenset()
        b.add("amount", text, Slots(product_types=_fs(DEPOSIT), term_months=term, amount=(krw, "once"), objectives=objectives))
    monthly = (("월 50만원", 500_000, 24), ("매달 30만원", 300_000, 12), ("월 100만원", 1_000_000, 36))
    for i, (written, krw, term) in enumerate(monthly):
        phrase = TERM_PHRASES[term][0]
        if i % 2 == 0:
            text = f"{written}씩 {phrase} 적금 들려고 해요"
            objectives = frozenset()
        else:
            text = f"{written}씩 {phrase} 모을 적금 중 금리 높은 거 알려 주세요"
            objectives = _fs(HIGHEST_RATE)
        b.add("amount", text, Slots(product_types=_fs(SAVING), term_months=term, amount=(krw, "monthly"), objectives=objectives))


def _youth(b: _Builder) -> None:
    youth_savings = [p for p in b.cat.of_type(SAVING) if is_youth(p)]
    youth_deposits = [p for p in b.cat.of_type(DEPOSIT) if is_youth(p)]
    b.add("eligibility", "청년 적금 추천해 주세요", Slots(product_types=_fs(SAVING), eligibility=_fs(YOUTH)),
          expect_none=not youth_savings)
    b.add("eligibility", "사회초년생인데 적금 추천해 주세요", Slots(product_types=_fs(SAVING), eligibility=_fs(YOUTH)),
          expect_none=not youth_savings)
    offered = b.cat.terms_offered(youth_savings)
    for i, term in enumerate(STANDARD_TERMS):
        phrase = TERM_PHRASES[term][i % 2]
        b.add("eligibility", f"청년 전용 적금 {phrase} 상품 있나요?",
              Slots(product_types=_fs(SAVING), term_months=term, eligibility=_fs(YOUTH)), expect_none=term not in offered)
    b.add("eligibility", "청년 정기예금 추천해 주세요", Slots(product_types=_fs(DEPOSIT), eligibility=_fs(YOUTH)),
          expect_none=not youth_deposits)


def _classes(b: _Builder) -> None:
    for term in (12, 24):
        b.add("provider_class", f"저축은행 정기예금 {TERM_PHRASES[term][0]} 금리 높은 곳 알려 주세요",
              Slots(product_types=_fs(DEPOSIT), term_months=term, provider_classes=_fs(SAVINGS_BANK), objectives=_fs(HIGHEST_RATE)))
    b.add("provider_class", "저축은행 적금 추천해 주세요", Slots(product_types=_fs(SAVING), provider_classes=_fs(SAVINGS_BANK)))
    b.add("provider_class", "인터넷은행 적금 추천해 주세요", Slots(product_types=_fs(SAVING), provider_classes=_fs(INTERNET_BANK)))
    b.add("provider_class", "인터넷은행 정기예금 1년 중 금리 높은 상품 알려 주세요",
          Slots(product_types=_fs(DEPOSIT), term_months=12, provider_classes=_fs(INTERNET_BANK), objectives=_fs(HIGHEST_RATE)))
    b.add("provider_class", "인터넷은행 예금 36개월 있나요?",
          Slots(product_types=_fs(DEPOSIT), term_months=36, provider_classes=_fs(INTERNET_BANK)),
          expect_none=not any(36 in p.terms and is_internet_bank(p.provider) for p in b.cat.of_type(DEPOSIT)))


def _objectives(b: _Builder) -> None:
    b.add("objective", "세액공제 받을 수 있는 연금저축 추천해 주세요",
          Slots(product_types=_fs(ANNUITY), objectives=_fs(TAX_BENEFIT)))
    b.add("objective", "연말정산 때 세액공제 되는 연금 상품 알려 주세요",
          Slots(product_types=_fs(ANNUITY), objectives=_fs(TAX_BENEFIT)))
    b.add("objective", "위험이 낮은 펀드 추천해 주세요", Slots(product_types=_fs(FUND), objectives=_fs(LOWEST_RISK)))
    b.add("objective", "원금 손실 없는 예금 상품 있나요?",
          Slots(product_types=_fs(DEPOSIT), objectives=_fs(PRINCIPAL_PROTECTED)))
    b.add("objective", "안전한 적금 추천해 주세요", Slots(product_types=_fs(SAVING), objectives=_fs(LOWEST_RISK)))


def _categories(b: _Builder) -> None:
    funds = Counter(p.category for p in b.cat.of_type(FUND) if p.category)
    for cat in sorted((c for c, n in funds.items() if n >= 30), key=lambda c: (-funds[c], c)):
        b.add("category", f"{cat} 펀드 추천해 주세요", Slots(product_types=_fs(FUND)), category=cat)
    kinds = Counter((p.category or "").split("(")[0] for p in b.cat.of_type(ANNUITY) if p.category)
    for kind in sorted(k for k, n in kinds.items() if n >= 10):
        b.add("category", f"{kind} 상품 알려 주세요", Slots(product_types=_fs(ANNUITY)), category=f"{kind}*")
    b.add("category", "배당주 펀드 추천해 주세요", Slots(product_types=_fs(FUND), objectives=_fs(INCOME)), words=("배당",))


def _loans(b: _Builder) -> None:
    loans = b.cat.of_type(CREDIT_LOAN)
    b.add("loan", "신용대출 금리 낮은 곳 알려 주세요", Slots(product_types=_fs(CREDIT_LOAN), objectives=_fs(LOWEST_RATE)),
          expect_none=not loans)
    written_for = {t: w for w, ts in PROVIDER_ALIASES.items() for t in ts if len(ts) == 1 and not w.startswith(("KB", "IBK"))}
    for name in sorted({p.provider for p in loans} - AMBIGUOUS_PROVIDERS):
        written = written_for.get(name, name)
        b.add("loan", f"{written} 신용대출 상품 알려 주세요",
              Slots(product_types=_fs(CREDIT_LOAN), providers=b.resolve(written)))
    b.add("loan", "마이너스통장 만들고 싶어요", Slots(product_types=_fs(CREDIT_LOAN)), category="마이너스한도대출",
          expect_none=not any(p.category == "마이너스한도대출" for p in loans))
    b.add("loan", "주택담보대출 금리 비교해 주세요", Slots(product_types=_fs(MORTGAGE_LOAN)),
          expect_none=not b.cat.of_type(MORTGAGE_LOAN))
    b.add("loan", "전세자금대출 추천해 주세요", Slots(product_types=_fs(RENT_LOAN)), expect_none=not b.cat.of_type(RENT_LOAN))


#: Wishes that name no product type → the types that serve them (and objectives they state).
TYPE_INTENTS: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("목돈을 맡기고 이자 받고 싶어요", _fs(DEPOSIT), frozenset()),
    ("목돈을 한동안 맡겨 두고 싶어요", _fs(DEPOSIT), frozenset()),
    ("여윳돈을 맡겨 두고 이자를 받고 싶어요", _fs(DEPOSIT), frozenset()),
    ("매달 조금씩 모으고 싶어요", _fs(SAVING), frozenset()),
    ("월급에서 매달 조금씩 모으려고 해요", _fs(SAVING), frozenset()),
    ("다달이 조금씩 돈을 모으고 싶어요", _fs(SAVING), frozenset()),
    ("급하게 돈이 필요해서 빌리고 싶어요", _fs(CREDIT_LOAN), frozenset()),
    ("급전이 필요해요", _fs(CREDIT_LOAN), frozenset()),
    ("생활비가 모자라서 돈을 빌려야 해요", _fs(CREDIT_LOAN), frozenset()),
    ("노후 대비 세액공제 되는 상품", _fs(ANNUITY), _fs(TAX_BENEFIT)),
    ("노후 준비용 상품 추천해 주세요", _fs(ANNUITY), frozenset()),
    ("은퇴 후를 대비하고 싶어요", _fs(ANNUITY), frozenset()),
    ("원금 손실 위험이 거의 없는 안전한 상품", _fs(DEPOSIT, SAVING), _fs(PRINCIPAL_PROTECTED, LOWEST_RISK)),
    ("원금 손실 없는 상품 추천해 주세요", _fs(DEPOSIT, SAVING), _fs(PRINCIPAL_PROTECTED)),
    ("여윳돈으로 투자해서 수익을 내고 싶어요", _fs(FUND), frozenset()),
    ("배당 받는 상품에 투자하고 싶어요", _fs(FUND), _fs(INCOME)),
)


def _type_intents(b: _Builder) -> None:
    for text, types, objectives in TYPE_INTENTS:
        b.add("type_intent", text, Slots(product_types=types, objectives=objectives), type_level=True,
              expect_none=not b.cat.of_type(*types))


def kinds(questions: Iterable[Question]) -> dict[str, int]:
    return dict(Counter(q.kind for q in questions))


def iter_rate_questions(questions: Iterable[Question]) -> Iterator[Question]:
    return (q for q in questions if q.rate_term is not None)


if __name__ == "__main__":  # print the question set with satisfying counts
    catalogue = Catalogue.bundled()
    qs = generate(catalogue)
    for q in qs:
        n = len(catalogue.satisfying(q.constraints))
        print(f"{q.qid:20} {n:4} {'NONE ' if q.expect_none else ''}{q.text}")
    print(len(qs), kinds(qs))
