"""Check an answer against the catalogue: product names and numbers must come from the data.

A wrong rate is the most damaging thing a financial advisor can say, and a language model will
occasionally produce one (a rate from another product, a rounded or invented number). This module
is the gate every answer passes before it reaches the customer; it is pure and deterministic, so
the graph can regenerate or fall back on failure and tests can pin its behaviour.

What is a *claim*: a number with a unit that states a rate, term, fee, return or risk grade —
``%`` (rates, fees, returns), ``%p`` (rate differences, e.g. 우대금리), ``개월``/``년`` (terms,
return horizons) and ``등급`` (risk grades). Ranges and lists inherit the unit of their last
member ("연 5.33~10.01%", "1~36개월", "5~6등급"). Counts ("3개 상품"), ages ("35세"), amounts
("1억원", "월 50만원"), calendar years ("2026년") and bare numbers inside names are *not* claims.

What a claim must match: a fact of the products it talks about. A line (paragraph) that names
candidate products is checked against those products only, so a rate borrowed from another
product is caught; a line naming none is checked against all candidates. Facts are the structured
fields (rates per term, fee, returns, grade, terms) plus numbers in the product's own free text
(우대조건, 가입 안내 …), because quoting a product's own conditions is grounded. Numbers in the
*context* (the question, the persona, our own exclusion notes) are always accepted, so "35세",
"자산 구성은 예적금 45%" or "12개월짜리 있나요?" never raise false alarms; so are a few statutory
tax rates (:data:`GENERAL_PCT_FACTS`, e.g. 이자소득세 15.4%) that are true of every product.

Formatting tolerance: 3.8 == 3.80; a value may be shown rounded to two or more decimals
(1.728 → "1.73%") but not to fewer than the data has ("3.85" → "3.9%" is a mismatch); a loss may
be written unsigned next to a loss word ("19.38% 하락").

Names: text inside 「」 or 『』 is reserved for product names and must be a candidate's exact name
(whitespace-insensitive); other name-like strings (a word ending in 예금/적금/펀드/… with a Latin
letter or digit before it, e.g. "카카오뱅크26주적금", quoted or bold or bare) must be part of a
candidate's name. Names mentioned in the question are accepted ("문의하신 X는 후보에 없습니다").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from finray.advice.interest import check_computed, find_computed_claims
from finray.products.model import Product

ClaimKind = Literal["pct", "pp", "months", "years", "grade"]

_UNITS: dict[str, ClaimKind] = {
    "%p": "pp",
    "%포인트": "pp",
    "퍼센트포인트": "pp",
    "%": "pct",
    "퍼센트": "pct",
    "개월": "months",
    "년": "years",
    "등급": "grade",
}
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_NUMBER_RE = re.compile(
    r"(?<![\d.,])(?P<sign>[-−–+])?(?P<num>\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d+)?|\d+(?:\.\d+)?)(?!\d)"
)
_UNIT_AFTER_RE = re.compile(rf"[ \t]*(?P<unit>{_UNIT_ALT})")
_RANGE_SEP_RE = re.compile(r"[ \t]*(?:[~∼〜\-–]|,[ \t]?|/|·)[ \t]*")
_LOSS_RE = re.compile(r"하락|손실|마이너스|감소|떨어")

#: Statutory rates an advisor may state about any product (always accepted as "%" claims):
#: 이자·배당소득세 15.4% (지방세 포함), 연금저축 세액공제 16.5%/13.2%, 연금소득세 5.5/4.4/3.3%,
#: 연금 외 수령 기타소득세 16.5%, 비과세종합저축 등의 농어촌특별세 1.4%.
GENERAL_PCT_FACTS: frozenset[Decimal] = frozenset(
    Decimal(v) for v in ("15.4", "16.5", "13.2", "5.5", "4.4", "3.3", "1.4")
)

_PRODUCT_WORDS = ("정기예금", "정기적금", "투자신탁", "연금보험", "예금", "적금", "펀드", "통장", "대출", "보험")
_WORD_CHARS = r"A-Za-z0-9가-힣★&+\-·!"
_BARE_NAME_RE = re.compile(
    rf"(?<![{_WORD_CHARS}])(?P<tok>[{_WORD_CHARS}]*?(?:{'|'.join(_PRODUCT_WORDS)}))"
    r"(?=[은는이가을를과와도의에로으만]|\s|$|[.,!?)」』”\"'*])"
)
_RESERVED_QUOTE_RE = re.compile(r"「([^」\n]{1,120})」|『([^』\n]{1,120})』")
_OTHER_QUOTE_RE = re.compile(
    r"“([^”\n]{1,120})”|‘([^’\n]{1,120})’|\"([^\"\n]{1,120})\"|\*\*([^*\n]{1,120})\*\*"
)
# "12개월", "1년만기", "6개월짜리" before 예금/적금 describe a term, not a product name.
_TERM_PREFIX_RE = re.compile(r"^\d+(?:개월|년|주)(?:제|만기|짜리|만기형)?")
# Latin-lettered generic terms ("CMA통장", "ETF펀드", "ISA예금") are kinds of products, not names.
_GENERIC_PREFIXES = frozenset(
    {"cma", "mmf", "etf", "tdf", "els", "elf", "eld", "dls", "dlf", "isa", "irp", "rp", "mmda", "reits", "ai"}
)


class Verification(BaseModel):
    """Outcome of :func:`verify_answer`; ``problems`` are Korean, fit to feed back to a model."""

    ok: bool
    problems: list[str] = Field(default_factory=list)
    claims_checked: int = 0


class CitedLike(Protocol):
    product_id: str


@dataclass(frozen=True)
class Claim:
    """One number-with-unit found in a text."""

    kind: ClaimKind
    value: Decimal  # signed as written
    raw: str  # as written, e.g. "9.99%", "-19.38%", "5.33" (first member of a range)
    start: int
    end: int
    signed: bool  # a sign was written
    near_loss_word: bool


@dataclass
class ProductFacts:
    """Numbers a product's data supports, by claim kind.

    ``free`` holds the claims found in the product's own texts (우대조건, 가입 안내, 최저보증이율 …)
    by kind, so "연 0.7%p" in its 우대조건 supports "0.7%p" but not "0.7년".
    """

    pct: set[Decimal] = field(default_factory=set)
    pp: set[Decimal] = field(default_factory=set)
    months: set[Decimal] = field(default_factory=set)
    years: set[Decimal] = field(default_factory=set)
    grade: set[Decimal] = field(default_factory=set)
    free: dict[str, set[Decimal]] = field(default_factory=dict)

    def _free(self, kind: str) -> set[Decimal]:
        return self.free.get(kind, set())

    def allowed(self, kind: ClaimKind) -> set[Decimal]:
        """Values a claim of ``kind`` may take for this product."""
        out = set(getattr(self, kind)) | self._free(kind)
        if kind in ("pct", "pp"):  # conditions write 우대금리 as "0.2%" or "0.2%p" alike
            out |= self._free("pct") | self._free("pp")
        if kind == "months":
            out |= {y * 12 for y in self._free("years")}
        if kind == "years":
            out |= {m / 12 for m in self._free("months") if m % 12 == 0}
        return out

    def add_free(self, text: str) -> None:
        for c in extract_claims(text):
            self.free.setdefault(c.kind, set()).add(c.value)


# --------------------------------------------------------------------------------------------
# claims
# --------------------------------------------------------------------------------------------
def _dec(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


@dataclass(frozen=True)
class _Num:
    start: int  # where the written number starts (at its sign when it has one)
    end: int
    value: Decimal
    signed: bool


def _is_sign(text: str, sign_pos: int) -> bool:
    """A ``-`` is a minus sign unless it sits between two numbers (then it is a range dash)."""
    j = sign_pos - 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    return j < 0 or not (text[j].isdigit() or text[j] == "%")


def _scan(text: str) -> list[_Num]:
    out = []
    for m in _NUMBER_RE.finditer(text):
        value = _dec(m["num"])
        signed = m["sign"] in ("-", "−", "–") and _is_sign(text, m.start())
        start = m.start() if signed else m.start("num")
        out.append(_Num(start, m.end(), -value if signed else value, signed))
    return out


def _numbers(text: str) -> Iterator[Decimal]:
    """Every number in ``text``, signed when a minus sign is written before it."""
    return (n.value for n in _scan(text))


def number_spans(text: str) -> list[tuple[int, int, Decimal, bool]]:
    """``(start, end, value, signed)`` of every number in ``text``, parsed exactly as claims are
    (thousands separators, a minus sign vs. a range dash). Public so other verifiers (RiskXpert's
    forecast narratives) check numbers with this same parser instead of a second one."""
    return [(n.start, n.end, n.value, n.signed) for n in _scan(text)]


def extract_claims(text: str) -> list[Claim]:
    """Numbers with a rate/term/fee/return/grade unit, in text order (see module docstring)."""
    nums = _scan(text)
    units: list[ClaimKind | None] = [None] * len(nums)
    unit_end: list[int] = [n.end for n in nums]
    for i, n in enumerate(nums):
        u = _UNIT_AFTER_RE.match(text, n.end)
        if u:
            units[i] = _UNITS[u["unit"]]
            unit_end[i] = u.end()
    # Ranges and lists ("1~36개월", "2.45 - 3.85%", "6, 12, 24개월"): a bare number directly
    # followed by a separator and another claim takes that claim's unit (chains right to left).
    for i in range(len(nums) - 2, -1, -1):
        if units[i] is not None or units[i + 1] is None:
            continue
        if _RANGE_SEP_RE.fullmatch(text[unit_end[i] : nums[i + 1].start]):
            units[i] = units[i + 1]
    claims: list[Claim] = []
    for i, n in enumerate(nums):
        kind = units[i]
        if kind is None:
            continue
        if kind == "years" and n.value >= 1900:
            continue  # a calendar year ("2026년 7월"), not a term
        window = text[max(0, n.start - 15) : unit_end[i] + 15]
        claims.append(
            Claim(
                kind=kind,
                value=n.value,
                raw=text[n.start : unit_end[i]],
                start=n.start,
                end=unit_end[i],
                signed=n.signed,
                near_loss_word=bool(_LOSS_RE.search(window)),
            )
        )
    return claims


# --------------------------------------------------------------------------------------------
# facts
# --------------------------------------------------------------------------------------------
def _as_dec(value: float | int) -> Decimal:
    return Decimal(repr(float(value))).normalize() if isinstance(value, float) else Decimal(value)


_HORIZON_MONTHS = {"m1": 1, "m3": 3, "m6": 6, "m12": 12}
_HORIZON_YEARS = {"m12": 1, "y1_ago": 1, "y2_ago": 2, "y3_ago": 3}
# extra keys whose numeric values are rates in percent (finlife loans).
_EXTRA_RATE_KEYS = frozenset({"rate_components", "avg_rates"})


def _add_extra(f: ProductFacts, value: Any, *, rates: bool = False) -> None:
    """Texts anywhere in ``extra`` are scanned for claims; numbers count only under rate keys."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        if rates:
            f.pct.add(_as_dec(value))
    elif isinstance(value, str):
        f.add_free(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _add_extra(f, v, rates=rates or k in _EXTRA_RATE_KEYS)
    elif isinstance(value, list | tuple | set):
        for v in value:
            _add_extra(f, v, rates=rates)


def product_facts(product: Product) -> ProductFacts:
    """Every number the product's data supports, sorted into claim kinds."""
    f = ProductFacts()
    for r in product.rates:
        for v in (r.base_rate, r.max_rate):
            if v is not None:
                f.pct.add(_as_dec(v))
        if r.base_rate is not None and r.max_rate is not None:
            f.pp.add(_as_dec(round(r.max_rate - r.base_rate, 4)))
        if r.term_months is not None:
            f.months.add(Decimal(r.term_months))
            if r.term_months % 12 == 0:
                f.years.add(Decimal(r.term_months // 12))
        if r.label:
            f.add_free(r.label)
    if product.fee_pct is not None:
        f.pct.add(_as_dec(product.fee_pct))
    for key, v in product.recent_returns.items():
        f.pct.add(_as_dec(v))
        if key in _HORIZON_MONTHS:
            f.months.add(Decimal(_HORIZON_MONTHS[key]))
        if key in _HORIZON_YEARS:
            f.years.add(Decimal(_HORIZON_YEARS[key]))
    if product.risk_grade is not None:
        f.grade.add(Decimal(product.risk_grade))
    for text in (
        product.name,
        product.category,
        product.preferential_conditions,
        product.maturity_interest,
        product.description,
        product.guaranteed_rate_text,
        product.join_member,
    ):
        if text:
            f.add_free(text)
    _add_extra(f, product.extra)
    return f


def _decimals(d: Decimal) -> int:
    exp = d.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def _claim_decimals(raw: str) -> int:
    m = re.search(r"\.(\d+)", raw)
    return len(m.group(1)) if m else 0


def claim_matches(claim: Claim, values: Iterable[Decimal]) -> bool:
    """Whether a claim equals one of ``values`` within the formatting tolerance."""
    shown = _claim_decimals(claim.raw)
    half_step = Decimal(5) * Decimal(10) ** (-(shown + 1))
    for v in values:
        if shown < min(2, _decimals(v)):
            continue  # rounded to fewer decimals than the data has: not the same number
        if abs(claim.value - v) <= half_step:
            return True
        if not claim.signed and v < 0 and claim.near_loss_word and abs(claim.value + v) <= half_step:
            return True
    return False


# --------------------------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------------------------
def normalize_name(text: str) -> str:
    """Whitespace-free, case-folded form for comparing names ("KB Star\\n정기예금" == "KBStar정기예금")."""
    return re.sub(r"\s+", "", text).casefold()


def display_name(name: str) -> str:
    """A name with runs of whitespace (the feed has line breaks inside names) as single spaces."""
    return " ".join(name.split())


def _name_pattern(name: str) -> re.Pattern[str]:
    chars = [re.escape(c) for c in re.sub(r"\s+", "", name)]
    return re.compile(r"\s*".join(chars), re.IGNORECASE)


def _looks_like_name(candidate: str) -> str | None:
    """The normalized product-name part of ``candidate`` if it looks like a specific product name.

    "Specific" means a product word (예금, 적금, 펀드 …) preceded by at least two characters that
    include a Latin letter, a digit or ★ — "카카오뱅크26주적금", "KB특★한적금" — after dropping a
    leading term ("12개월", "1년만기") and generic kinds ("CMA", "ETF", "ISA" …).
    """
    norm = normalize_name(candidate)
    for word in _PRODUCT_WORDS:
        idx = norm.rfind(word)
        if idx <= 0:
            continue
        prefix = _TERM_PREFIX_RE.sub("", norm[:idx])
        prefix = re.sub(r"형$", "", prefix)
        if len(prefix) < 2 or prefix in _GENERIC_PREFIXES:
            return None
        if re.search(r"[a-z0-9★]", prefix):
            return norm[: idx + len(word)]
        return None
    return None


# --------------------------------------------------------------------------------------------
# the check
# --------------------------------------------------------------------------------------------
_FIELD_WINDOW = 6  # "기본 연 3.00%", "최고 연 4.10%": the field word right before the number


_TERM_GAP_RE = re.compile(
    r"(?:기준|만기|최고|기본|우대|금리|이율|단리|월복리|복리|연|은|는|이|가|의|로|으로|[\s(),/·~:\-])*"
)


def _term_of(line: str, claim: Claim, claims: Sequence[Claim]) -> Decimal | None:
    """The term (in months) a rate claim states: "12개월 기준 최고 연 5.20%(기본 연 3.00%)".

    Attributed only when the words between the closest earlier 개월/년 claim and the rate are
    rate words (기준, 최고, 기본, 연 …) or other rates of the same phrase, so a rate quoted later
    from a product's 우대조건 is not mistaken for that term's rate.
    """
    before = [c for c in claims if c.end <= claim.start and c.kind in ("months", "years", "pct", "pp")]
    cursor = claim.start
    for c in reversed(before):
        gap = line[c.end : cursor]
        if not _TERM_GAP_RE.fullmatch(gap):
            return None
        if c.kind in ("months", "years"):
            return c.value * 12 if c.kind == "years" else c.value
        cursor = c.start
    return None


def _names_product(masked: str, claim: Claim) -> bool:
    """Whether the sentence holding ``claim`` names a candidate product (masked as ⟦상품⟧)."""
    start = max(masked.rfind(". ", 0, claim.start), masked.rfind("! ", 0, claim.start),
                masked.rfind("? ", 0, claim.start))
    end_candidates = [i for i in (masked.find(". ", claim.end), masked.find("! ", claim.end),
                                  masked.find("? ", claim.end)) if i != -1]
    end = min(end_candidates) if end_candidates else len(masked)
    return "⟦상품⟧" in masked[start + 1 : end + 1]


def _field_of(line: str, claim: Claim) -> str | None:
    before = line[max(0, claim.start - _FIELD_WINDOW) : claim.start]
    if "기본" in before:
        return "base"
    if "최고" in before or "우대" in before:
        return "max"
    return None


def term_rates(product: Product, months: Decimal, field: str | None) -> set[Decimal] | None:
    """Rates the product publishes at that term (for one field when given); None: no such term."""
    rows = [r for r in product.rates if r.term_months is not None and Decimal(r.term_months) == months]
    if not rows:
        return None
    out: set[Decimal] = set()
    for r in rows:
        for name, v in (("base", r.base_rate), ("max", r.max_rate)):
            if v is not None and field in (None, name):
                out.add(_as_dec(v))
    return out


def verify_answer(
    text: str,
    items: Sequence[CitedLike],
    catalogue_products: Sequence[Product],
    *,
    context: str = "",
    require_items: bool = False,
    intent: Any = None,
) -> Verification:
    """Verify ``text`` (and the cited ``items``) against the candidate products.

    ``catalogue_products`` are the products the generator was allowed to use (the reranked
    candidates); ``context`` is text whose numbers and names are never claims (question, persona,
    our own exclusion notes). ``require_items``: an answer citing nothing while there are
    candidates is a problem (the graph sets it; a bare text check does not need it).
    """
    problems: list[str] = []
    by_id = {p.product_id: p for p in catalogue_products}
    facts = {p.product_id: product_facts(p) for p in catalogue_products}
    patterns = {p.product_id: _name_pattern(p.name) for p in catalogue_products}
    names_norm = {pid: normalize_name(p.name) for pid, p in by_id.items()}
    context_norm = normalize_name(context)
    # Names a candidate's own data holds are data too: its provider ("주식회사KB손해보험" reads
    # like a product name) and products its texts name (우대조건 "WON통장에 연결하여 가입하는 경우").
    own_texts_norm = normalize_name(" ".join(
        t for p in catalogue_products
        for t in (p.provider, p.preferential_conditions, p.description, p.join_member) if t
    ))
    context_numbers = set(_numbers(context))

    # 1. cited items must be candidates, and named in the text
    text_norm = normalize_name(text)
    if require_items and catalogue_products and not items:
        problems.append("추천 상품(items)이 하나도 없습니다. 후보 상품 중에서 골라 주세요.")
    for item in items:
        p = by_id.get(item.product_id)
        if p is None:
            problems.append(f"후보 목록에 없는 상품 ID를 인용했습니다: {item.product_id}")
        elif names_norm[p.product_id] not in text_norm:
            problems.append(f"답변에 인용한 상품명 「{display_name(p.name)}」이(가) 나오지 않습니다.")

    # 2. names and numbers, line by line
    claims_checked = 0
    all_ids = list(by_id)
    for line in text.splitlines():
        if not line.strip():
            continue
        mentioned = [pid for pid in all_ids if patterns[pid].search(line)]

        for m in _RESERVED_QUOTE_RE.finditer(line):
            quoted = normalize_name(m.group(1) or m.group(2) or "")
            if quoted and quoted not in names_norm.values() and quoted not in context_norm:
                problems.append(f"후보 목록에 없는 상품명입니다: 「{display_name(m.group(1) or m.group(2))}」")

        masked = line
        for pid in mentioned:
            masked = patterns[pid].sub(lambda _m: "⟦상품⟧", masked)
        name_like: list[str] = []
        for m in _OTHER_QUOTE_RE.finditer(masked):
            inner = next(g for g in m.groups() if g is not None)
            if (n := _looks_like_name(inner)) is not None:
                name_like.append(n)
        for m in _BARE_NAME_RE.finditer(masked):
            if (n := _looks_like_name(m["tok"])) is not None:
                name_like.append(n)
        for n in dict.fromkeys(name_like):
            if not any(n in full for full in names_norm.values()) and n not in context_norm and n not in own_texts_norm:
                problems.append(f"후보 목록에 없는 상품명입니다: '{n}'")

        scope = mentioned or all_ids
        claims = extract_claims(masked)
        computed_spans = _computed_spans(line) if mentioned else []
        for claim in claims:
            claims_checked += 1
            # A number the question or persona holds is no evidence for a product's figure: in a
            # sentence that names a product, only the products' own data counts.
            allowed: set[Decimal] = set() if _names_product(masked, claim) else set(context_numbers)
            if claim.kind == "pct":
                allowed |= GENERAL_PCT_FACTS
            attributed = False
            if mentioned and claim.kind == "pct" and not any(a <= claim.start < b for a, b in computed_spans):
                term = _term_of(masked, claim, claims)
                if term is not None:
                    field = _field_of(masked, claim)
                    per_term = [term_rates(by_id[pid], term, field) for pid in scope]
                    if any(v is not None for v in per_term):
                        attributed = True
                        for v in per_term:
                            allowed |= v or set()
            if not attributed:
                for pid in scope:
                    allowed |= facts[pid].allowed(claim.kind)
            if not claim_matches(claim, allowed):
                whose = (
                    ", ".join(f"「{display_name(by_id[pid].name)}」" for pid in mentioned)
                    if mentioned
                    else "후보 상품"
                )
                problems.append(
                    f"근거 없는 수치 '{claim.raw}': {whose}의 금리·기간·보수·수익률·위험등급 자료에 없는 값입니다."
                )
        # 3. computed figures (interest on an amount) are recomputed from the product's own rate
        if computed_spans:
            per_product = [check_computed(line, by_id[pid]) for pid in mentioned]
            if all(per_product):
                problems.extend(per_product[0])
    unique = list(dict.fromkeys(problems))
    return Verification(ok=not unique, problems=unique, claims_checked=claims_checked)


def _computed_spans(line: str) -> list[tuple[int, int]]:
    """Where a line states computed interest (those numbers are checked by recomputation)."""
    spans = [(line.find(c.text), len(c.text)) for c in find_computed_claims(line)]
    return [(start, start + n) for start, n in spans if start >= 0]


