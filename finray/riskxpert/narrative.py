"""The words around a forecast: grounded facts, the offline Korean writer, the two LLM stages, and
the number check every text passes before a user reads it.

A forecast narrative is dangerous in one specific way: a plausible but invented number ("원/달러는
1,520원까지 오를 전망") reads exactly like a real one. So the narrative is built around a fixed set
of **facts** — every number the user may be told, formatted once (:func:`build_facts`) — and:

* the **offline writer** (:func:`offline_summary`, :func:`offline_scenarios`) composes Korean text
  only from those formatted strings, deterministically, so it passes verification by construction;
* a **chat model** (Gemini via langchain-google-genai in production) gets the same facts in its
  prompt and answers in a fixed schema, in two separate calls: first the **summary**, then the
  **scenarios** (낙관/기준/비관), with the verified summary as context so the stages agree;
* :func:`verify_narrative` checks every number in a text against the facts (with the advisor's
  number parser and formatting tolerance from :mod:`finray.agent.verify`): values, changes and
  backtest metrics must be facts; "N개월"/"N년" must be a horizon that was asked about; dates must
  fall inside the shown months. Numbers in the user's question are accepted, as in the advisor.
  A model text that fails is regenerated once with the problems listed, then replaced by the
  offline text (:func:`run_stage`).

"낙관" and "비관" need a direction per indicator; it is fixed here from a household's point of view
(:data:`FAVOURABLE`): lower policy and market rates (cheaper borrowing), a stronger won (cheaper
imports), a higher KOSPI and lower inflation are the favourable ends of the 80% interval.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from finray.agent.verify import Claim, Verification, claim_matches, extract_claims, number_spans
from finray.indicators.series import INDICATORS
from finray.riskxpert.schemas import ForecastResponse, IndicatorForecast

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

log = logging.getLogger(__name__)

Stage = Literal["summary", "scenario"]
CASES: tuple[str, str, str] = ("낙관", "기준", "비관")
MAX_MODEL_ATTEMPTS = 2  # the first answer and one regeneration after a failed check

#: The favourable direction of each indicator for a household (see the module docstring), and
#: what each end means in plain words.
FAVOURABLE: dict[str, Literal["up", "down"]] = {
    "base_rate": "down", "ktb3y": "down", "usd_krw": "down", "kospi": "up", "cpi": "down",
}
_MEANING: dict[str, dict[str, str]] = {
    "base_rate": {"up": "대출 이자 부담이 커지는", "down": "대출 이자 부담이 줄어드는"},
    "ktb3y": {"up": "시장금리가 올라 보유 채권 가격이 떨어지는", "down": "시장금리가 안정되어 보유 채권 가격이 오르는"},
    "usd_krw": {"up": "원화 약세로 수입 물가와 해외 결제 부담이 커지는", "down": "원화 강세로 수입 물가 부담이 줄어드는"},
    "kospi": {"up": "주식 자산 가치가 늘어나는", "down": "주식 자산 가치가 줄어드는"},
    "cpi": {"up": "물가 상승 압력이 커지는", "down": "물가 상승 압력이 약해지는"},
}
MODEL_KO: dict[str, str] = {
    "naive": "나이브(마지막 값 유지)", "seasonal_naive": "계절 나이브(작년 같은 달)",
    "drift": "드리프트(평균 추세 연장)", "ets": "지수평활(ETS)", "patchtst": "PatchTST(트랜스포머)",
}
_SUMMARY_HORIZONS = (1, 3, 6, 12, 24)


# =============================================================================================
# formatting (the only place numbers become text)
# =============================================================================================
def fmt_num(value: float, decimals: int) -> str:
    """``1467.4 → "1,467.40"``: thousands separators, the indicator's source precision."""
    return f"{value:,.{decimals}f}"


def with_unit(text: str, unit: str) -> str:
    if unit == "연%":
        return f"연 {text}%"
    if unit == "원":
        return f"{text}원"
    if unit == "pt":
        return f"{text}pt"
    return text  # an index (CPI, 2020=100) has no unit word


def fmt_change(delta: float, decimals: int, unit: str) -> str:
    """``+0.25%p`` for rates, ``+11.46원`` / ``-120.50pt`` / ``+0.42`` for levels."""
    sign = "+" if delta >= 0 else "-"
    body = fmt_num(abs(delta), decimals)
    if unit == "연%":
        return f"{sign}{body}%p"
    return f"{sign}{with_unit(body, unit)}" if unit in ("원", "pt") else f"{sign}{body}"


def fmt_pct_change(new: float, old: float) -> str | None:
    if old == 0:
        return None
    pct = (new / old - 1.0) * 100.0
    return f"{'+' if pct >= 0 else '-'}{abs(pct):.2f}%"


def topic(name: str) -> str:
    """``name`` with 은/는 chosen by its last syllable (Latin letters read as a vowel ending)."""
    last = name.rstrip()[-1:]
    if "가" <= last <= "힣":
        return f"{name}{'은' if (ord(last) - 0xAC00) % 28 else '는'}"
    return f"{name}는"


_DIGIT_FINAL = {"0": True, "1": True, "2": False, "3": True, "4": False, "5": False, "6": True,
                "7": True, "8": True, "9": False}  # 영 일 이 삼 사 오 육 칠 팔 구: has a final consonant
_DIGIT_RIEUL = {"1", "7", "8"}  # 일 칠 팔 end in ㄹ, which takes "로" like a vowel


def _final(text: str) -> tuple[bool, bool]:
    """(has a final consonant, that consonant is ㄹ) of how ``text`` is read aloud at its end."""
    t = text.rstrip()
    if t.endswith(("%", "%p", "pt")):
        return False, False  # 퍼센트, 퍼센트포인트, 포인트
    last = t[-1:]
    if "가" <= last <= "힣":
        jong = (ord(last) - 0xAC00) % 28
        return jong != 0, jong == 8
    if last.isdigit():
        return _DIGIT_FINAL[last], last in _DIGIT_RIEUL
    return False, False


def obj(text: str) -> str:
    """``text`` + 을/를."""
    return text + ("을" if _final(text)[0] else "를")


def ro(text: str) -> str:
    """``text`` + 으로/로."""
    has, rieul = _final(text)
    return text + ("으로" if has and not rieul else "로")


def subject(name: str) -> str:
    last = name.rstrip()[-1:]
    if "가" <= last <= "힣":
        return f"{name}{'이' if (ord(last) - 0xAC00) % 28 else '가'}"
    return f"{name}가"


# =============================================================================================
# facts
# =============================================================================================
@dataclass(frozen=True)
class PointFacts:
    """One horizon of one indicator, every number already formatted."""

    h: int
    month: str
    median: str
    p10: str
    p90: str
    change: str  # median vs the last observation
    pct: str | None  # the same in percent (levels only)


@dataclass(frozen=True)
class CaseFacts:
    case: str
    value: str
    change: str
    pct: str | None
    edge: str  # "80% 구간 상단" / "중앙값" / "80% 구간 하단"
    meaning: str


@dataclass(frozen=True)
class IndicatorFacts:
    key: str
    name: str
    unit: str
    model: str
    model_ko: str
    as_of: str
    last: str
    year_ago: tuple[str, str] | None  # (month, value) twelve months before ``as_of``
    points: tuple[PointFacts, ...]
    direction: str  # 상승 / 하락 / 보합 at the last requested month
    rel_mase: str
    coverage: str
    stale: bool
    cases: dict[str, CaseFacts] = field(default_factory=dict)

    @property
    def final(self) -> PointFacts:
        return self.points[-1]


@dataclass(frozen=True)
class NarrativeFacts:
    """Everything a narrative may say with a number, and the prompt blocks that show it."""

    months: int
    version: str
    indicators: tuple[IndicatorFacts, ...]
    values: frozenset[Decimal]
    horizons: frozenset[int]
    years: tuple[int, int]  # allowed calendar years (inclusive)
    mask_terms: tuple[str, ...]  # names/units whose digits are not claims ("국고채 3년", "2020=100")

    def block(self) -> str:
        """The [예측 수치] block of both prompts."""
        out: list[str] = []
        for f in self.indicators:
            out.append(f"■ {f.name} ({f.key}) — 예측 모델: {f.model_ko}")
            out.append(f"- 마지막 관측({f.as_of}): {with_unit(f.last, f.unit)}")
            if f.year_ago:
                out.append(f"- 12개월 전({f.year_ago[0]}): {with_unit(f.year_ago[1], f.unit)}")
            for p in f.points:
                pct = f", {p.pct}" if p.pct else ""
                out.append(
                    f"- {p.h}개월 후({p.month}): 중앙값 {with_unit(p.median, f.unit)}, 80% 예측구간 "
                    f"{with_unit(p.p10, f.unit)}~{with_unit(p.p90, f.unit)}, 마지막 관측 대비 {p.change}{pct}"
                )
            out.append(f"- {self.months}개월 후 중앙값 방향: {f.direction}")
            out.append(f"- 백테스트: 나이브 대비 상대 MASE {f.rel_mase}(1보다 작으면 나이브보다 정확), "
                       f"80% 구간 적중률 {f.coverage}")
            if f.stale:
                out.append(f"- 주의: 자료가 {f.as_of}까지여서 예측은 {f.points[0].month}부터의 값이며, "
                           "이미 지난 달이 포함될 수 있습니다.")
            out.append("")
        return "\n".join(out).rstrip()

    def scenario_block(self) -> str:
        """The [시나리오 수치] block: per case, each indicator at the last requested month."""
        out: list[str] = []
        for case in CASES:
            out.append(f"[{case}]")
            for f in self.indicators:
                c = f.cases[case]
                pct = f", {c.pct}" if c.pct else ""
                out.append(f"- {f.name}: {f.final.month} {with_unit(c.value, f.unit)} ({c.edge}, "
                           f"마지막 관측 대비 {c.change}{pct}) — {c.meaning} 경우")
            out.append("")
        return "\n".join(out).rstrip()


def _dec(text: str) -> Decimal:
    return Decimal(text.replace(",", "").replace("+", "").replace("%p", "").replace("%", "")
                   .replace("원", "").replace("pt", "").replace("연", "").strip())


def _horizons(months: int) -> list[int]:
    return sorted({h for h in _SUMMARY_HORIZONS if h <= months} | {months})


def _indicator_facts(fc: IndicatorForecast, months: int) -> IndicatorFacts:
    ind = INDICATORS[fc.indicator]
    d = ind.decimals
    last_value = fc.history[-1].value if fc.history else None
    points: list[PointFacts] = []
    for h in _horizons(months):
        p = fc.forecast[h - 1]
        base = last_value if last_value is not None else p.median
        points.append(PointFacts(
            h, p.month, fmt_num(p.median, d), fmt_num(p.p10, d), fmt_num(p.p90, d),
            fmt_change(p.median - base, d, fc.unit),
            None if fc.unit == "연%" else fmt_pct_change(p.median, base),
        ))
    final = fc.forecast[months - 1]
    base = last_value if last_value is not None else final.median
    delta = final.median - base
    flat = round(delta, d) == 0 if fc.unit == "연%" else abs(delta) < 0.005 * abs(base)
    direction = "보합" if flat else ("상승" if delta > 0 else "하락")
    year_ago = None
    if len(fc.history) >= 13:
        ya = fc.history[-13]
        year_ago = (ya.month, fmt_num(ya.value, d))
    cases: dict[str, CaseFacts] = {}
    fav = FAVOURABLE[fc.indicator]
    ends = {"up": ("80% 구간 상단", final.p90), "down": ("80% 구간 하단", final.p10)}
    for case, (edge, value) in {
        "낙관": ends[fav],
        "기준": ("중앙값", final.median),
        "비관": ends["down" if fav == "up" else "up"],
    }.items():
        # 기준 is described against today, 낙관/비관 against 기준 (CPI's favourable end may
        # still be above today's level: it is "less inflation than expected", not deflation)
        ref, prefix = (base, "지금보다 ") if case == "기준" else (final.median, "기준 시나리오보다 ")
        if round(value - ref, d) == 0:
            meaning = "지금 수준이 유지되는" if case == "기준" else "기준 시나리오와 같은"
        else:
            meaning = prefix + _MEANING[fc.indicator]["up" if value > ref else "down"]
        cases[case] = CaseFacts(case, fmt_num(value, d), fmt_change(value - base, d, fc.unit),
                                None if fc.unit == "연%" else fmt_pct_change(value, base), edge, meaning)
    skill = fc.skill
    return IndicatorFacts(
        key=fc.indicator, name=fc.name_ko, unit=fc.unit, model=fc.model,
        model_ko=MODEL_KO.get(fc.model, fc.model), as_of=fc.as_of,
        last=fmt_num(base, d), year_ago=year_ago, points=tuple(points), direction=direction,
        rel_mase=f"{skill.rel_mase:.3f}" if skill.rel_mase is not None else "—",
        coverage=f"{skill.coverage:.2f}" if skill.coverage is not None else "—",
        stale=fc.warning is not None, cases=cases,
    )


_MASKS_BY_INDICATOR = {
    "ktb3y": (r"국고채\s*3\s*년\s*물?", r"3\s*년\s*물", r"3\s*년\s*만기"),
    "cpi": (r"2020\s*년?\s*=\s*100",),
}


def build_facts(response: ForecastResponse) -> NarrativeFacts:
    """Facts of a forecast response: what every narrative stage may say with a number."""
    months = response.months
    inds = tuple(_indicator_facts(fc, months) for fc in response.indicators)
    values: set[Decimal] = {Decimal(10), Decimal(80), Decimal(90), Decimal(1)}  # 10%/90%, 80% 구간, "1보다"
    periods: list[str] = []
    for f in inds:
        texts = [f.last, f.rel_mase, f.coverage]
        if f.year_ago:
            texts.append(f.year_ago[1])
            periods.append(f.year_ago[0])
        periods.append(f.as_of)
        for p in f.points:
            texts += [p.median, p.p10, p.p90, p.change] + ([p.pct] if p.pct else [])
            periods.append(p.month)
        for c in f.cases.values():
            texts += [c.value, c.change] + ([c.pct] if c.pct else [])
        for t in texts:
            if t and t != "—":
                v = _dec(t)
                values |= {v, -v, abs(v)}
    years = [int(p[:4]) for p in periods]
    masks = [re.escape(f.name) for f in inds]
    for f in inds:
        masks += list(_MASKS_BY_INDICATOR.get(f.key, ()))
    return NarrativeFacts(
        months=months, version=response.version, indicators=inds, values=frozenset(values),
        horizons=frozenset(range(1, months + 1)) | ({12} if any(f.year_ago for f in inds) else set()),
        years=(min(years), max(years)), mask_terms=tuple(masks),
    )


# =============================================================================================
# verification
# =============================================================================================
_DATE_RE = re.compile(
    r"(?P<y1>\d{4})\s*년\s*(?P<m1>\d{1,2})\s*월"
    r"|(?P<y2>\d{4})\s*[-./]\s*(?P<m2>\d{1,2})(?!\d)"
    r"|(?P<y3>\d{4})\s*년(?!\s*=)"
    r"|(?<![\d.,])(?P<m4>\d{1,2})\s*월"
    r"|(?<![\d.,])(?P<q>[1-4])\s*분기"
)
_LIST_MARK_RE = re.compile(r"(?m)^\s*\d{1,2}[.)]\s")
_COUNTER_RE = re.compile(r"(?<![\d.,])[1-5]\s*(?:가지|개(?!월))")


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def verify_narrative(text: str, facts: NarrativeFacts, context: str = "") -> Verification:
    """Every number in ``text`` must be a fact (values, changes, metrics), an asked horizon, a
    shown month, or a number from ``context`` (the user's question)."""
    problems: list[str] = []
    masked = text
    for pattern in facts.mask_terms:
        masked = re.sub(pattern, lambda m: " " * len(m.group(0)), masked)
    for rx in (_LIST_MARK_RE, _COUNTER_RE):
        masked = rx.sub(lambda m: " " * len(m.group(0)), masked)
    context_values = {v for _, _, v, _ in number_spans(context)}
    context_values |= {-v for v in context_values}

    # 1. dates
    lo_year, hi_year = facts.years
    for m in list(_DATE_RE.finditer(masked)):
        year = m["y1"] or m["y2"] or m["y3"]
        month = m["m1"] or m["m2"] or m["m4"]
        if year is not None and not lo_year <= int(year) <= hi_year and Decimal(year) not in context_values:
            problems.append(f"근거 없는 시점 '{m.group(0).strip()}': 예측 수치표의 기간({lo_year}~{hi_year}년) 밖입니다.")
        if month is not None and not 1 <= int(month) <= 12:
            problems.append(f"잘못된 월 '{m.group(0).strip()}'")
        masked = _blank(masked, m.start(), m.end())

    # 2. horizons ("3개월 후", "1년")
    claimed: list[tuple[int, int]] = []
    for c in extract_claims(masked):
        if c.kind not in ("months", "years"):
            continue
        claimed.append((c.start, c.end))
        months = c.value if c.kind == "months" else c.value * 12
        if months != months.to_integral_value() or (
            int(months) not in facts.horizons and c.value not in context_values
        ):
            problems.append(f"근거 없는 기간 '{c.raw}': 요청한 예측 기간(1~{facts.months}개월)에 없는 값입니다.")

    # 3. every other number is a value claim
    checked = 0
    allowed = set(facts.values) | context_values
    for start, end, value, signed in number_spans(masked):
        if any(s <= start < e for s, e in claimed):
            continue
        checked += 1
        raw = masked[start:end]
        claim = Claim(kind="pct", value=value, raw=raw, start=start, end=end, signed=signed, near_loss_word=False)
        if claim_matches(claim, allowed) or _rounded_level(value, raw, allowed):
            continue
        problems.append(f"근거 없는 수치 '{text[start:end]}': 예측 수치표에 없는 값입니다. 표의 값을 그대로 쓰세요.")
    unique = list(dict.fromkeys(problems))
    return Verification(ok=not unique, problems=unique, claims_checked=checked + len(claimed))


def _rounded_level(value: Decimal, raw: str, allowed: set[Decimal]) -> bool:
    """Levels of 100 or more may be written as whole numbers ("1,467원" for 1,467.40원)."""
    if "." in raw:
        return False
    return any(abs(v) >= 100 and abs(value - v) <= Decimal("0.5") for v in allowed)


# =============================================================================================
# offline writer
# =============================================================================================
DISCLAIMER = ("이 전망은 과거 자료로 학습한 통계 모델의 추정이며, 실제 값은 80% 예측구간을 벗어날 수도 있습니다. "
              "투자 권유나 수익 보장이 아니므로 참고 자료로만 활용해 주세요.")


def offline_summary(facts: NarrativeFacts, question: str = "") -> list[str]:
    """Summary chunks: an opening line, one paragraph per indicator, the disclaimer."""
    m = facts.months
    opening = (f"문의하신 내용과 관련해 향후 {m}개월 전망을 요약해 드립니다." if question.strip()
               else f"향후 {m}개월 전망을 요약해 드립니다.")
    chunks = [opening]
    for f in facts.indicators:
        p = f.final
        pct = f", {p.pct}" if p.pct else ""
        move = {"상승": "오를 것으로", "하락": "내릴 것으로", "보합": "지금과 비슷한 수준을 유지할 것으로"}[f.direction]
        text = (
            f"{topic(f.name)} 마지막 관측({f.as_of}) {with_unit(f.last, f.unit)}에서 {m}개월 후({p.month}) "
            f"중앙값 {ro(with_unit(p.median, f.unit))} {move} 예상됩니다(마지막 관측 대비 {p.change}{pct}). "
            f"80% 예측구간은 {with_unit(p.p10, f.unit)}~{with_unit(p.p90, f.unit)}입니다. "
            f"예측 모델은 {f.model_ko}이며, 백테스트에서 나이브 대비 상대 MASE {f.rel_mase}, "
            f"80% 구간 적중률 {obj(f.coverage)} 기록했습니다."
        )
        if f.stale:
            text += (f" 다만 {f.name} 자료는 {f.as_of}까지여서 예측은 {f.points[0].month}부터의 값이며, "
                     "이미 지난 달이 포함될 수 있습니다.")
        chunks.append("\n\n" + text)
    chunks.append("\n\n" + DISCLAIMER)
    return chunks


_CASE_OPENING = {
    "낙관": "각 지표가 80% 예측구간 중 가계에 유리한 쪽 끝에 이르는 경우입니다.",
    "기준": "각 지표가 중앙값 경로를 따르는 경우입니다.",
    "비관": "각 지표가 80% 예측구간 중 가계에 불리한 쪽 끝에 이르는 경우입니다.",
}


def offline_scenarios(facts: NarrativeFacts) -> dict[str, list[str]]:
    """Per case: an opening sentence and one sentence per indicator (at the last requested month)."""
    out: dict[str, list[str]] = {}
    for case in CASES:
        chunks = [_CASE_OPENING[case]]
        for f in facts.indicators:
            c = f.cases[case]
            pct = f", {c.pct}" if c.pct else ""
            where = "중앙값인" if case == "기준" else f"{c.edge}인"
            chunks.append(
                f" {f.final.month}에 {subject(f.name)} {where} {with_unit(c.value, f.unit)}"
                f"(마지막 관측 대비 {c.change}{pct})이면 {c.meaning} 상황입니다."
            )
        if case != "기준" and len(facts.indicators) > 1:
            chunks.append(" 여러 지표가 한꺼번에 같은 쪽 끝에 이를 가능성은 각각의 경우보다 낮습니다.")
        out[case] = chunks
    return out


# =============================================================================================
# chat model stages
# =============================================================================================
class ForecastSummary(BaseModel):
    """The summary stage's answer."""

    summary: str = Field(description="예측 요약(한국어 존댓말, 지표마다 2~3문장). 숫자는 [예측 수치]의 값만 그대로 씁니다.")


class ScenarioNarrative(BaseModel):
    """The scenario stage's answer: one paragraph per case."""

    optimistic: str = Field(description="낙관 시나리오(2~4문장). 숫자는 [시나리오 수치]의 [낙관] 값만 씁니다.")
    base: str = Field(description="기준 시나리오(2~4문장). 숫자는 [시나리오 수치]의 [기준] 값만 씁니다.")
    pessimistic: str = Field(description="비관 시나리오(2~4문장). 숫자는 [시나리오 수치]의 [비관] 값만 씁니다.")


RULES = """당신은 한국 금융 지표 예측 서비스 RiskXpert의 해설 도우미입니다. 반드시 지키세요.
1. 숫자는 아래 수치표에 적힌 값만 그대로 옮겨 씁니다. 반올림하거나 계산한 값(차이, 합계, 평균, 비율), 수치표에 없는 숫자는 쓰지 않습니다.
2. 시점은 수치표에 나온 연월(YYYY-MM)과 'N개월 후' 표현만 씁니다.
3. 지표 이름은 수치표의 이름을 그대로 씁니다.
4. 예측은 불확실하며 투자 권유가 아님을 분명히 하고, 수익을 보장하는 표현은 쓰지 않습니다.
5. 한국어 존댓말로 간결하게 씁니다."""

SUMMARY_TASK = "[과제] 질문에 답하며 각 지표의 중앙값 전망, 80% 예측구간, 예측 모델과 백테스트 성과(상대 MASE, 80% 구간 적중률)를 요약하세요."
SCENARIO_TASK = ("[과제] 낙관·기준·비관 시나리오를 하나씩 쓰세요. 각 시나리오의 수치는 [시나리오 수치]의 해당 칸 값만 쓰고, "
                 "앞 단계 [요약]과 모순되지 않게 가계에 어떤 의미인지 설명하세요.")


def build_messages(stage: Stage, facts: NarrativeFacts, question: str, summary: str | None = None,
                   problems: Sequence[str] = ()) -> list[BaseMessage]:
    """System rules + one human message with the question, the facts and (retry) the problems."""
    from langchain_core.messages import HumanMessage, SystemMessage

    body = [f"고객 질문: {question.strip()}" if question.strip() else "고객 질문: (없음 — 전반적인 전망을 설명해 주세요)",
            "", f"[예측 수치] (모델 버전 {facts.version}, {facts.months}개월)", facts.block()]
    if stage == "scenario":
        body += ["", "[시나리오 수치]", facts.scenario_block(), "", "[요약]", summary or "", "", SCENARIO_TASK]
    else:
        body += ["", SUMMARY_TASK]
    if problems:
        body += ["", "[이전 답변의 문제 — 반드시 고쳐서 다시 작성하세요]", *(f"- {p}" for p in problems)]
    return [SystemMessage(content=RULES), HumanMessage(content="\n".join(body))]


def _structured(chat_model: BaseChatModel, schema: type[BaseModel], messages: list[BaseMessage]) -> BaseModel:
    out = chat_model.with_structured_output(schema).invoke(messages)
    if isinstance(out, schema):
        return out
    if isinstance(out, dict):
        return schema.model_validate(out)
    raise ValueError(f"model returned no structured answer ({type(out).__name__})")


@dataclass
class StageResult:
    """The verified text of one stage, as chunks, and how it was produced."""

    stage: Stage
    chunks: list[tuple[str | None, str]]  # (case or None for the summary, text)
    generator: str  # offline | gemini | gemini→offline
    regenerated: bool = False
    fallback_reason: str | None = None
    verification: Verification | None = None
    model_error: bool = False  # the model failed (transport, quota): a transient reason to go offline

    def text(self, case: str | None = None) -> str:
        return "".join(t for c, t in self.chunks if case is None or c == case).strip()


def sentence_chunks(text: str) -> list[str]:
    """Split a model text into sentence-ish chunks whose concatenation is the text."""
    parts = re.split(r"(?<=[.!?。])(\s+)", text.strip())
    chunks: list[str] = []
    for p in parts:
        if chunks and (not p.strip() or len(chunks[-1]) < 20):
            chunks[-1] += p
        else:
            chunks.append(p)
    return [c for c in chunks if c]


def _offline_stage(stage: Stage, facts: NarrativeFacts, question: str) -> list[tuple[str | None, str]]:
    if stage == "summary":
        return [(None, c) for c in offline_summary(facts, question)]
    return [(case, c) for case, chunks in offline_scenarios(facts).items() for c in chunks]


def run_stage(stage: Stage, facts: NarrativeFacts, question: str = "", *,
              chat_model: BaseChatModel | None = None, summary: str | None = None,
              model_name: str = "gemini") -> StageResult:
    """One narrative stage: model answer verified (one regeneration), else the offline text."""
    context = question
    offline = _offline_stage(stage, facts, question)
    if chat_model is None:
        v = _verify_chunks(offline, facts, context)
        if not v.ok:  # the offline writer must always pass; a failure is a bug worth seeing
            log.error("offline %s failed verification: %s", stage, v.problems)
        return StageResult(stage, offline, "offline", verification=v)

    problems: list[str] = []
    model_error: str | None = None
    attempts = 0
    for attempts in range(1, MAX_MODEL_ATTEMPTS + 1):
        messages = build_messages(stage, facts, question, summary, problems)
        try:
            if stage == "summary":
                ans = _structured(chat_model, ForecastSummary, messages)
                chunks: list[tuple[str | None, str]] = [(None, c) for c in sentence_chunks(ans.summary)]  # type: ignore[attr-defined]
            else:
                ans = _structured(chat_model, ScenarioNarrative, messages)
                texts = {"낙관": ans.optimistic, "기준": ans.base, "비관": ans.pessimistic}  # type: ignore[attr-defined]
                chunks = [(case, c) for case in CASES for c in sentence_chunks(texts[case])]
        except Exception as err:  # noqa: BLE001 - any model failure means "write it offline"
            model_error = f"{type(err).__name__}: {err}"
            log.warning("chat model failed in the %s stage (attempt %d): %s", stage, attempts, model_error)
            break
        v = _verify_chunks(chunks, facts, context)
        missing = [case for case in CASES if stage == "scenario" and not any(c == case and t.strip() for c, t in chunks)]
        if missing:
            v = Verification(ok=False, problems=[*v.problems, *(f"{c} 시나리오가 비어 있습니다." for c in missing)],
                             claims_checked=v.claims_checked)
        if not chunks:
            v = Verification(ok=False, problems=["빈 답변입니다."], claims_checked=0)
        if v.ok:
            return StageResult(stage, chunks, model_name, regenerated=attempts > 1, verification=v)
        problems = v.problems
        log.info("model %s failed verification (attempt %d): %s", stage, attempts, problems)
    reason = f"모델 오류: {model_error}" if model_error else "검증 실패: " + "; ".join(problems)
    return StageResult(stage, offline, f"{model_name}→offline", regenerated=attempts > 1,
                       fallback_reason=reason, verification=_verify_chunks(offline, facts, context),
                       model_error=model_error is not None)


def _verify_chunks(chunks: list[tuple[str | None, str]], facts: NarrativeFacts, context: str) -> Verification:
    """Each case (and the summary) is verified as its own text, problems labelled by case."""
    problems: list[str] = []
    checked = 0
    for case in dict.fromkeys(c for c, _ in chunks):
        text = "".join(t for c, t in chunks if c == case)
        v = verify_narrative(text, facts, context)
        checked += v.claims_checked
        problems += [f"[{case}] {p}" if case else p for p in v.problems]
    return Verification(ok=not problems, problems=problems, claims_checked=checked)


__all__ = [
    "CASES", "FAVOURABLE", "ForecastSummary", "NarrativeFacts", "ScenarioNarrative", "StageResult",
    "build_facts", "build_messages", "offline_scenarios", "offline_summary", "run_stage",
    "sentence_chunks", "verify_narrative",
]
