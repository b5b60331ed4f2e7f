"""Reading a Korean question into a :class:`~finray.intent.model.QueryIntent`.

The question is analysed by Kiwi (:mod:`finray.text.kiwi`) into morphemes, and every slot is read
from morphemes, not from raw characters: "12개월" is ``12/SN 개월/NNB``, "3천만원" is
``3/SN 천만/NR 원/NNB``, "일년짜리" is ``일/NR 년/NNB 짜리/XSN``, "높은" is ``높/VA``. Provider
names are the one exception: they are proper names of the catalogue, matched as a gazetteer by
:class:`~finray.intent.providers.ProviderDirectory` (Kiwi splits "토스뱅크" into 토스+뱅크).

Rules are small tables below; each documents the phrasing it covers. Type-level wishes that name
no product ("목돈을 맡기고 이자", "빌리고 싶어요", "원금 손실 없는") map to the product types
that serve them. What is read from the text can always be overridden by the request
(:func:`merge_request`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from finray.intent.model import Channel, Eligibility, Objective, ProviderClass, QueryIntent, Slot
from finray.intent.providers import ProviderDirectory, unresolved_names
from finray.products.model import ProductType
from finray.text.kiwi import tokens

D, S, A, F, C = (ProductType.DEPOSIT, ProductType.SAVING, ProductType.ANNUITY, ProductType.FUND,
                 ProductType.CREDIT_LOAN)
M, R = ProductType.MORTGAGE_LOAN, ProductType.RENT_LOAN

# Korean numerals as they appear before units ("한 달", "세 달", "일 년", "두 해").
_NATIVE = {"한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10,
           "열두": 12, "스물네": 24, "일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "칠": 7, "팔": 8,
           "구": 9, "십": 10, "십이": 12}
_SCALE = {"십": 10, "백": 100, "천": 1_000, "만": 10_000, "십만": 100_000, "백만": 1_000_000,
          "천만": 10_000_000, "억": 100_000_000, "십억": 10**9, "백억": 10**10, "천억": 10**11}
_MONTH_UNITS = {"개월": 1, "달": 1, "년": 12, "해": 12}
_MONTHLY_WORDS = {"월", "매달", "매월", "달마다", "다달이", "한달", "한 달"}


@dataclass(frozen=True)
class _Tok:
    form: str
    tag: str
    start: int


def _num(form: str) -> float | None:
    try:
        return float(form.replace(",", ""))
    except ValueError:
        return _NATIVE.get(form)


# --------------------------------------------------------------------------------------------
# slots
# --------------------------------------------------------------------------------------------
def read_term(toks: Sequence[_Tok]) -> int | None:
    """The first term: number + 개월/달/년 ("12개월", "1년짜리", "세 달", "일년"), or 반년 (6)."""
    for i, t in enumerate(toks):
        if t.form == "반년" or (t.form == "년" and i > 0 and toks[i - 1].form == "반"):
            return 6
        if t.form in _MONTH_UNITS and i > 0:
            n = _num(toks[i - 1].form) if toks[i - 1].tag in ("SN", "NR", "MM") else None
            if n is None and t.form == "달" and toks[i - 1].form in ("한",):
                n = 1
            if n is None or n <= 0:
                continue
            # "월 50만원" is an amount period, "2026년" a calendar year, "20년 후" not a term of a product
            if t.form == "년" and n >= 100:
                continue
            nxt = toks[i + 1].form if i + 1 < len(toks) else ""
            if nxt in ("후", "뒤", "전", "차", "생"):  # "3년 후에 쓸 돈" is a horizon, still a term
                if nxt in ("전", "차", "생"):
                    continue
            months = int(round(n * _MONTH_UNITS[t.form]))
            if 1 <= months <= 600:
                return months
    return None


def read_amount(toks: Sequence[_Tok]) -> tuple[int | None, str | None]:
    """Money before 원 ("3천만원", "500만 원", "1억 5천만원", "10,000,000원") and whether it is monthly."""
    for i, t in enumerate(toks):
        if t.form != "원" or t.tag not in ("NNB", "NNG"):
            continue
        j, total, part = i - 1, 0, 0.0
        # walk left over number/scale morphemes: [SN][NR] [SN][NR] …
        parts: list[tuple[float, int]] = []
        while j >= 0 and toks[j].tag in ("SN", "NR"):
            if toks[j].tag == "NR" and toks[j].form in _SCALE:
                scale = _SCALE[toks[j].form]
                value = 1.0
                if j - 1 >= 0 and toks[j - 1].tag == "SN" and (v := _num(toks[j - 1].form)) is not None:
                    value, j = v, j - 1
                elif j - 1 >= 0 and toks[j - 1].tag == "NR" and toks[j - 1].form in _NATIVE:
                    value, j = float(_NATIVE[toks[j - 1].form]), j - 1
                parts.append((value, scale))
            elif toks[j].tag == "SN" and (v := _num(toks[j].form)) is not None:
                parts.append((v, 1))
            else:
                break
            j -= 1
        if not parts:
            continue
        # "1억 5천만" → [(5, 천만), (1, 억)]: larger scales on the left add up
        for value, scale in parts:
            part = value * scale
            total += int(round(part))
        if total <= 0:
            continue
        before = {toks[k].form for k in range(max(0, j - 1), j + 1)} if j >= 0 else set()
        after = toks[i + 1].form if i + 1 < len(toks) else ""
        monthly = bool(before & _MONTHLY_WORDS) or (after == "씩" and bool(before & {"달", "월"}))
        if not monthly and after == "씩":
            monthly = True  # "50만원씩": a regular payment
        return total, ("monthly" if monthly else "once")
    return None, None


# (morpheme sequence → types); matched on forms in order, adjacent
_TYPE_PHRASES: list[tuple[tuple[str, ...], tuple[ProductType, ...]]] = [
    (("정기", "예금"), (D,)), (("예적금",), (D, S)), (("예", "적금"), (D, S)), (("정기", "적금"), (S,)),
    (("적금",), (S,)), (("예금",), (D,)), (("예치",), (D,)),
    (("연금", "저축", "펀드"), (A,)), (("연금", "저축", "보험"), (A,)),
    (("연금", "저축"), (A,)), (("연금저축",), (A,)), (("연금", "보험"), (A,)), (("연금",), (A,)),
    (("펀드",), (F,)), (("투자", "신탁"), (F,)), (("ETF",), (F,)), (("etf",), (F,)), (("주식형",), (F,)),
    (("채권형",), (F,)), (("채권", "형"), (F,)), (("주식", "형"), (F,)), (("혼합", "형"), (F,)),
    (("신용", "대출"), (C,)), (("신용대출",), (C,)), (("마이너스", "통장"), (C,)), (("비상금", "대출"), (C,)),
    (("주택", "담보"), (M,)), (("주담대",), (M,)), (("전세", "자금"), (R,)), (("전세", "대출"), (R,)),
    (("대출",), (C,)),  # generic: only when no specific loan was named (see read_types)
]
_LOANS = (C, M, R)

# Catalogue categories by the morphemes that name them (fund 유형, 연금저축 종류, 신용대출 유형).
# Longer phrases first; a category named here is binding like a type.
_CATEGORY_PHRASES: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("주식", "혼합", "형"), ("주식혼합형",)), (("채권", "혼합", "형"), ("채권혼합형",)),
    (("주식혼합형",), ("주식혼합형",)), (("채권혼합형",), ("채권혼합형",)),
    (("주식", "형"), ("주식형",)), (("채권", "형"), ("채권형",)), (("주식형",), ("주식형",)), (("채권형",), ("채권형",)),
    (("MMF",), ("MMF",)), (("mmf",), ("MMF",)),
    (("연금", "저축", "펀드"), ("연금저축펀드",)), (("연금저축펀드",), ("연금저축펀드",)),
    (("연금", "저축", "보험"), ("연금저축보험(생명)", "연금저축보험(손해)")),
    (("마이너스", "통장"), ("마이너스한도대출",)), (("마이너스", "한도"), ("마이너스한도대출",)),
]
# wishes that name no product type (verb stems, nouns): the types that serve them
_WISH_LEMMAS: list[tuple[tuple[str, ...], tuple[ProductType, ...]]] = [
    (("빌리",), (C,)), (("급전",), (C,)), (("목돈", "맡기"), (D,)), (("맡기",), (D,)), (("굴리",), (D,)),
    (("모으",), (S,)), (("모이",), (S,)), (("저축",), (S,)), (("노후",), (A,)), (("은퇴",), (A,)),
    (("세액", "공제"), (A,)), (("투자",), (F,)), (("배당",), (F,)),
]


def _has_seq(forms: Sequence[str], seq: Sequence[str]) -> int:
    n = len(seq)
    for i in range(len(forms) - n + 1):
        if tuple(forms[i : i + n]) == tuple(seq):
            return i
    return -1


def read_types(toks: Sequence[_Tok], flat: str) -> tuple[list[ProductType], bool]:
    """Product types named (True) or, failing that, implied by the wish (False)."""
    forms = [t.form for t in toks]
    used = [False] * len(forms)
    named: list[ProductType] = []
    for seq, types in _TYPE_PHRASES:
        if seq == ("대출",) and any(t in named for t in _LOANS):
            continue  # "주택담보대출" names a mortgage; its 대출 is not another credit loan
        i = _has_seq(forms, seq)
        while i != -1 and not any(used[i : i + len(seq)]):
            if seq == ("예금",) and i + 1 < len(forms) and forms[i + 1] in ("자", "자보호"):
                break  # 예금자보호 is a protection, not a deposit
            if seq in (("저축",),) and "저축은행" in flat:
                break
            for k in range(i, i + len(seq)):
                used[k] = True
            named += [t for t in types if t not in named]
            rest = _has_seq(forms[i + len(seq):], seq)
            i = -1 if rest == -1 else i + len(seq) + rest
    if "저축은행" in flat:  # "저축" there is the company class, not a wish to save
        named = [t for t in named if t is not S or "적금" in flat]
    if named:
        return named, True
    implied: list[ProductType] = []
    for seq, types in _WISH_LEMMAS:
        if seq == ("저축",) and "저축은행" in flat:
            continue
        if _has_seq(forms, seq) != -1:
            implied += [t for t in types if t not in implied]
        if implied:
            break
    return implied, False


def read_categories(toks: Sequence[_Tok]) -> list[str]:
    """Catalogue categories named in the question ("채권형 펀드", "연금저축보험", "마이너스통장")."""
    forms = [t.form for t in toks]
    used = [False] * len(forms)
    out: list[str] = []
    for seq, cats in _CATEGORY_PHRASES:
        i = _has_seq(forms, seq)
        if i != -1 and not any(used[i : i + len(seq)]):
            for k in range(i, i + len(seq)):
                used[k] = True
            out += [c for c in cats if c not in out]
    return out


def read_objectives(toks: Sequence[_Tok], flat: str, types: Sequence[ProductType]) -> list[Objective]:
    forms = [t.form for t in toks]
    fs = set(forms)
    out: list[Objective] = []
    rate_words = {"금리", "이자", "이율", "수익", "수익률", "이자율"}
    high = {"높", "많", "많이", "최고", "제일", "가장", "최대", "고금리", "좋"}
    low = {"낮", "싸", "싼", "저렴", "최저", "저금리", "적"}
    loan = any(t.is_loan for t in types)
    if fs & rate_words or "고금리" in fs or "저금리" in fs:
        wants_low = bool(fs & low) or "저금리" in fs
        wants_high = bool(fs & high) or "고금리" in fs
        if loan and (wants_low or (wants_high and ("제일" in fs or "가장" in fs) and not ("높" in fs))):
            out.append(Objective.LOWEST_RATE)
        elif wants_high and not loan:
            out.append(Objective.HIGHEST_RATE)
        elif loan and wants_low:
            out.append(Objective.LOWEST_RATE)
        elif not loan and not wants_low and fs & {"금리", "이율", "이자율"} and set(types) & {D, S}:
            out.append(Objective.HIGHEST_RATE)  # "12개월 정기예금 금리": a comparison sorted by rate
    if "원금" in fs and (fs & {"보장", "손실", "보호", "안전"}):
        out.append(Objective.PRINCIPAL_PROTECTED)
    elif "예금자보호" in flat or ("예금" in fs and "보호" in fs and "자" in fs):
        out.append(Objective.PRINCIPAL_PROTECTED)
    if fs & {"안전", "안정", "안정적"} or ("위험" in fs and fs & {"낮", "적", "없"}):
        out.append(Objective.LOWEST_RISK)
    if ("세액" in fs and "공제" in fs) or fs & {"절세", "비과세", "세제"} or "소득공제" in flat:
        out.append(Objective.TAX_BENEFIT)
    if fs & {"배당", "배당주", "인컴"} or "월지급" in flat:
        out.append(Objective.INCOME)
    return out


_CLASS_WORDS = [
    (("인터넷", "은행"), ProviderClass.INTERNET_BANK), (("인터넷", "전문", "은행"), ProviderClass.INTERNET_BANK),
    (("인뱅",), ProviderClass.INTERNET_BANK), (("저축", "은행"), ProviderClass.SAVINGS_BANK),
    (("저축은행",), ProviderClass.SAVINGS_BANK), (("시중", "은행"), ProviderClass.BANK),
    (("1금융",), ProviderClass.BANK), (("은행", "권"), ProviderClass.BANK), (("은행",), ProviderClass.BANK),
    (("보험사",), ProviderClass.INSURER), (("보험", "사"), ProviderClass.INSURER),
    (("운용", "사"), ProviderClass.ASSET_MANAGER), (("자산", "운용", "사"), ProviderClass.ASSET_MANAGER),
]


def read_classes(toks: Sequence[_Tok]) -> list[ProviderClass]:
    forms = [t.form for t in toks]
    used = [False] * len(forms)
    out: list[ProviderClass] = []
    for seq, klass in _CLASS_WORDS:
        i = _has_seq(forms, seq)
        if i != -1 and not any(used[i : i + len(seq)]):
            for k in range(i, i + len(seq)):
                used[k] = True
            if klass not in out:
                out.append(klass)
    if ProviderClass.BANK in out and len(out) > 1:
        out.remove(ProviderClass.BANK)  # "저축은행", "인터넷은행" also contain 은행
    return out


def read_channels(fs: set[str]) -> list[Channel]:
    out = []
    if fs & {"스마트폰", "모바일", "앱", "어플", "폰"}:
        out.append(Channel.MOBILE)
    if fs & {"비대면", "온라인", "인터넷뱅킹"}:
        out.append(Channel.ONLINE)
    if fs & {"영업점", "지점", "창구", "방문"}:
        out.append(Channel.BRANCH)
    return out


def read_eligibility(forms: Sequence[str], flat: str) -> list[Eligibility]:
    fs = set(forms)
    out = []
    if fs & {"청년", "사회초년생", "청년도약"} or "사회초년" in flat:
        out.append(Eligibility.YOUTH)
    if _has_seq(forms, ("첫", "거래")) != -1 or "첫거래" in flat or "신규고객" in flat:
        out.append(Eligibility.FIRST_CUSTOMER)
    if "급여" in fs and fs & {"이체", "통장"} or "월급이체" in flat:
        out.append(Eligibility.SALARY_TRANSFER)
    if fs & {"시니어", "어르신", "노인", "실버"}:
        out.append(Eligibility.SENIOR)
    return out


# --------------------------------------------------------------------------------------------
# the parser
# --------------------------------------------------------------------------------------------
class IntentParser:
    """Question → :class:`QueryIntent` against one catalogue's providers (build once per process)."""

    def __init__(self, directory: ProviderDirectory) -> None:
        self.directory = directory

    def parse(self, question: str) -> QueryIntent:
        text = (question or "").strip()[:2000]
        if not text:
            return QueryIntent()
        matches = self.directory.find(text)
        # analyse the text with provider names blanked, so "토스뱅크" never reads as 토스 + 뱅크
        masked = _mask(text, [m.written for m in matches])
        toks = [_Tok(t.form, t.tag, t.start) for t in tokens(masked)]
        forms = [t.form for t in toks]
        flat = re.sub(r"\s+", "", masked)
        types, named = read_types(toks, flat)
        amount, period = read_amount(toks)
        if amount is not None and period == "once" and S in types and D not in types:
            period = "monthly"  # "적금 50만원": a saving is paid monthly
        if amount is not None and not types:
            types = [S] if period == "monthly" else [D]
        objectives = read_objectives(toks, flat, types)
        if not named and Objective.PRINCIPAL_PROTECTED in objectives and not types:
            types = [D, S]  # "원금 손실 없는 상품": 예금자보호 products
        if not types and Objective.LOWEST_RISK in objectives and "상품" in forms:
            types = [D, S]
        if not types and Objective.TAX_BENEFIT in objectives:
            types = [A]
        providers: list[str] = []
        for m in matches:
            providers += [p for p in m.providers if p not in providers]
        classes = read_classes(toks)
        nouns = [t.form for t in toks if t.tag in ("NNP", "NNG")]
        return QueryIntent(
            product_types=types,
            categories=read_categories(toks),
            term_months=read_term(toks),
            amount_krw=amount,
            amount_period=period if amount is not None else None,
            providers=providers,
            provider_mentions=[m.written for m in matches],
            provider_classes=classes,
            channels=read_channels(set(forms)),
            eligibility=read_eligibility(forms, flat),
            objectives=objectives,
            unresolved_providers=unresolved_names(masked, [], _joined_nouns(nouns)),
            source={s: "text" for s in _slots_set(types, amount, providers, classes)},
        )


def _mask(text: str, names: Iterable[str]) -> str:
    for n in sorted(set(names), key=len, reverse=True):
        text = text.replace(n, " " * len(n))
    return text


def _joined_nouns(nouns: Sequence[str]) -> list[str]:
    """Adjacent nouns joined ("농협"+"생명" → "농협생명") so company names split by Kiwi are seen whole."""
    out = list(nouns)
    out += [a + b for a, b in zip(nouns, nouns[1:], strict=False)]
    return out


def _slots_set(types: Sequence[ProductType], amount: int | None, providers: Sequence[str], classes: Sequence) -> list[str]:
    out = []
    if types:
        out.append("product_types")
    if amount is not None:
        out.append("amount")
    if providers:
        out.append("providers")
    if classes:
        out.append("provider_classes")
    return out


# --------------------------------------------------------------------------------------------
# request fields win
# --------------------------------------------------------------------------------------------
def merge_request(
    intent: QueryIntent,
    *,
    product_types: Sequence[ProductType] | None = None,
    term_months: int | None = None,
    providers: Sequence[str] | None = None,
    amount_krw: int | None = None,
    drop: Iterable[Slot] = (),
) -> QueryIntent:
    """``intent`` with the slots the user removed cleared and the explicit request fields applied.

    Explicit fields win over the text: a client that shows "12개월" and lets the user pick 6
    sends ``term_months=6``; one that lets the user remove the chip sends ``drop=["term_months"]``.
    """
    data = intent.model_dump()
    source = dict(intent.source)
    cleared = {"amount": ("amount_krw", "amount_period"), "providers": ("providers", "provider_mentions")}
    for slot in drop:
        for name in cleared.get(slot, (slot,)):
            data[name] = None if name in ("term_months", "amount_krw", "amount_period") else []
        source.pop(slot, None)
    if product_types:
        data["product_types"], source["product_types"] = list(product_types), "request"
    if term_months is not None:
        data["term_months"], source["term_months"] = term_months, "request"
    if providers:
        data["providers"], data["provider_mentions"] = list(providers), list(providers)
        source["providers"] = "request"
    if amount_krw is not None:
        data["amount_krw"], source["amount"] = amount_krw, "request"
        types = data["product_types"] or []
        data["amount_period"] = "monthly" if types == [ProductType.SAVING] else (data.get("amount_period") or "once")
    if data.get("term_months") is not None and "term_months" not in source:
        source["term_months"] = "text"
    data["source"] = source
    return QueryIntent.model_validate(data)
