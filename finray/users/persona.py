"""A user's profile as a short Korean narrative — the text that is embedded to match products.

Why a narrative rather than key/value pairs: the same embedder encodes product descriptions
(:mod:`finray.products.ragtext`), so phrasing the user in the same natural Korean puts both in
one semantic space. The text must be **deterministic** (same record → same bytes), because
:func:`persona_hash` decides whether a user needs re-embedding; so every number is formatted by
integer arithmetic here, keywords come pre-sorted in :class:`~finray.users.db.UserRecord`, and
nothing depends on locale, time or dict iteration of unsorted data.

Two wording choices:

* 투자성향 is written "위험중립형(5단계 중 3단계)", never "3등급": Korean banks number 투자성향
  grades the other way round (1등급 = 공격투자형) and product risk grades use 1 = 매우높은위험,
  so "1등급" next to "안정형" would mislead both readers and the embedding.
* Age bands split each decade in two — 초반 (x0–x4) and 후반 (x5–x9) — so "34세" is "30대 초반".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from finray.users.db import UserRecord
from finray.users.models import ASSET_CLASSES, RISK_PROFILE_KO

#: One-phrase meaning of each 투자성향 (금융투자협회 표준투자권유준칙 wording, shortened).
RISK_PROFILE_MEANING_KO: dict[int, str] = {
    1: "원금 손실을 원하지 않고 예적금 수준의 안정적인 수익을 추구하는 성향",
    2: "원금 손실을 최소화하면서 예적금보다 조금 높은 수익을 추구하는 성향",
    3: "일정 수준의 손실 위험을 감수하고 예적금보다 높은 수익을 기대하는 성향",
    4: "높은 수익을 위해 상당한 수준의 손실 위험을 감수할 수 있는 성향",
    5: "시장 평균을 웃도는 수익을 위해 큰 손실 위험도 적극적으로 감수하는 성향",
}

_GENDER_KO = {"M": "남성", "F": "여성"}
_MAN = 10_000  # 1만원
_EOK_IN_MAN = 10_000  # 1억 = 1만 만원
_JO_IN_MAN = 100_000_000  # 1조 = 1억 만원


def format_krw(amount: int) -> str:
    """Korean money wording: ``1억 2,300만원``, ``850만원``, ``5,000원``, ``0원``.

    Amounts of 1만원 or more are rounded half-up to the nearest 만원 (a persona has no use for
    won-level precision); smaller amounts are shown exactly. Units are 조/억/만, each group with
    thousands separators, empty groups omitted (``1억원``, ``1조 50만원``).
    """
    if amount < 0:
        return "-" + format_krw(-amount)
    if amount < _MAN:
        return f"{amount:,}원"
    man = (amount + _MAN // 2) // _MAN
    jo, rest = divmod(man, _JO_IN_MAN)
    eok, man_rest = divmod(rest, _EOK_IN_MAN)
    parts = [f"{v:,}{unit}" for v, unit in ((jo, "조"), (eok, "억"), (man_rest, "만")) if v]
    return " ".join(parts) + "원"


def age_band(age: int) -> str:
    """``34 → "30대 초반"``, ``35 → "30대 후반"``; under 10 → ``"10세 미만"``."""
    if age < 10:
        return "10세 미만"
    return f"{age // 10 * 10}대 {'초반' if age % 10 < 5 else '후반'}"


def asset_mix(assets: Mapping[str, int]) -> list[tuple[str, int]]:
    """Asset classes with whole percentages that sum to exactly 100, largest holding first.

    Uses the largest-remainder method on integers, so the shown percentages always add up to 100
    and never invert the order of the amounts. Ties keep :data:`ASSET_CLASSES` order. Classes
    with no money are left out; an empty or zero total gives ``[]``.
    """
    canon = {c: i for i, c in enumerate(ASSET_CLASSES)}
    held = sorted(
        ((c, a) for c, a in assets.items() if a > 0),
        key=lambda ca: (-ca[1], canon.get(ca[0], len(canon)), ca[0]),
    )
    total = sum(a for _, a in held)
    if total <= 0:
        return []
    floors = [a * 100 // total for _, a in held]
    remainders = [a * 100 % total for _, a in held]
    leftover = 100 - sum(floors)
    bonus = sorted(range(len(held)), key=lambda i: (-remainders[i], i))[:leftover]
    for i in bonus:
        floors[i] += 1
    return [(c, p) for (c, _), p in zip(held, floors, strict=True)]


def _mix_text(mix: list[tuple[str, int]]) -> str:
    return ", ".join(f"{c} {p}%" if p else f"{c} 1% 미만" for c, p in mix)


def persona_text(user: UserRecord) -> str:
    """The user's Korean persona, e.g. ``"34세(30대 초반) 남성 고객입니다. 투자성향은 …"``.

    Sentences, in order: age/gender; 투자성향 with its meaning; total assets and mix; income;
    retirement goal and years left; desired monthly living cost; interest keywords. Missing data
    (no assets, no ``user_info`` row, no keywords) gets an explicit "없음" sentence rather than
    silence, so two users differing only there still get different texts.
    """
    risk_name = RISK_PROFILE_KO[user.risk_profile]
    parts = [
        f"{user.age}세({age_band(user.age)}) {_GENDER_KO[user.gender]} 고객입니다.",
        f"투자성향은 {risk_name}(5단계 중 {user.risk_profile}단계)으로, "
        f"{RISK_PROFILE_MEANING_KO[user.risk_profile]}입니다.",
    ]

    mix = asset_mix(user.assets)
    if mix:
        total = sum(a for a in user.assets.values() if a > 0)
        parts.append(f"총자산은 {format_krw(total)}이며, 자산 구성은 {_mix_text(mix)}입니다.")
    else:
        parts.append("등록된 보유 자산이 없습니다.")

    info = user.info
    if info is None:
        parts.append("소득 및 은퇴 계획 정보는 등록되어 있지 않습니다.")
    else:
        parts.append(f"연소득은 {format_krw(info.annual_income_krw)}입니다.")
        target = info.target_retirement_age
        if target > user.age:
            parts.append(
                f"{target}세 은퇴를 목표로 하고 있어 은퇴까지 {target - user.age}년 남았습니다."
            )
        else:
            parts.append(f"목표 은퇴 연령은 {target}세로, 이미 은퇴 시점에 도달했습니다.")
        parts.append(
            f"은퇴 후 희망 월 생활비는 {format_krw(info.desired_monthly_living_cost_krw)}입니다."
        )

    if user.keywords:
        parts.append(f"관심 키워드: {', '.join(user.keywords)}.")
    else:
        parts.append("등록된 관심 키워드가 없습니다.")
    return " ".join(parts)


def persona_hash(text: str) -> str:
    """SHA-256 hex of the UTF-8 persona text; a changed hash means the user must be re-embedded."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
