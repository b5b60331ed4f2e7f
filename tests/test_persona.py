"""Persona text: exact wording, Korean money formatting, percentages that add up, determinism."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from finray.users.db import UserInfoRecord, UserRecord, create_readonly_engine, iter_user_partition
from finray.users.demo import seed_demo_users
from finray.users.models import RISK_PROFILE_KO
from finray.users.persona import (
    RISK_PROFILE_MEANING_KO,
    age_band,
    asset_mix,
    format_krw,
    persona_hash,
    persona_text,
)

MAN = 10_000


def _user(**over: object) -> UserRecord:
    base: dict[str, object] = {
        "user_id": "U0000001",
        "age": 34,
        "gender": "M",
        "risk_profile": 3,
        "assets": {"예적금": 5535 * MAN, "주식": 3690 * MAN, "펀드": 1845 * MAN, "현금": 1230 * MAN},
        "info": UserInfoRecord(
            annual_income_krw=5200 * MAN,
            target_retirement_age=60,
            desired_monthly_living_cost_krw=250 * MAN,
        ),
        "keywords": ("ETF", "내집마련"),
    }
    return UserRecord(**{**base, **over})  # type: ignore[arg-type]


def test_exact_persona_text() -> None:
    assert persona_text(_user()) == (
        "34세(30대 초반) 남성 고객입니다. "
        "투자성향은 위험중립형(5단계 중 3단계)으로, "
        "일정 수준의 손실 위험을 감수하고 예적금보다 높은 수익을 기대하는 성향입니다. "
        "총자산은 1억 2,300만원이며, 자산 구성은 예적금 45%, 주식 30%, 펀드 15%, 현금 10%입니다. "
        "연소득은 5,200만원입니다. "
        "60세 은퇴를 목표로 하고 있어 은퇴까지 26년 남았습니다. "
        "은퇴 후 희망 월 생활비는 250만원입니다. "
        "관심 키워드: ETF, 내집마련."
    )


def test_persona_without_optional_data_and_after_retirement_age() -> None:
    bare = persona_text(
        _user(gender="F", age=72, risk_profile=1, assets={}, info=None, keywords=())
    )
    assert bare == (
        "72세(70대 초반) 여성 고객입니다. "
        f"투자성향은 안정형(5단계 중 1단계)으로, {RISK_PROFILE_MEANING_KO[1]}입니다. "
        "등록된 보유 자산이 없습니다. "
        "소득 및 은퇴 계획 정보는 등록되어 있지 않습니다. "
        "등록된 관심 키워드가 없습니다."
    )
    retired = persona_text(
        _user(
            age=66,
            info=UserInfoRecord(
                annual_income_krw=0, target_retirement_age=65, desired_monthly_living_cost_krw=0
            ),
        )
    )
    assert "66세(60대 후반)" in retired
    assert "연소득은 0원입니다." in retired
    assert "목표 은퇴 연령은 65세로, 이미 은퇴 시점에 도달했습니다." in retired
    assert "남았습니다" not in retired


@pytest.mark.parametrize("risk", [1, 2, 3, 4, 5])
def test_every_risk_profile_is_named_with_its_meaning(risk: int) -> None:
    text = persona_text(_user(risk_profile=risk))
    assert f"투자성향은 {RISK_PROFILE_KO[risk]}(5단계 중 {risk}단계)으로, " in text
    assert RISK_PROFILE_MEANING_KO[risk] in text
    assert "등급" not in text  # 등급 numbering runs the other way in Korean banking


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, "0원"),
        (5_000, "5,000원"),
        (9_999, "9,999원"),
        (10_000, "1만원"),
        (14_999, "1만원"),
        (15_000, "2만원"),  # half-up to 만원
        (8_500_000, "850만원"),
        (52_000_000, "5,200만원"),
        (100_000_000, "1억원"),
        (123_000_000, "1억 2,300만원"),
        (99_995_000, "1억원"),  # rounding carries into 억
        (1_234_567_890, "12억 3,457만원"),
        (25_000_000_000, "250억원"),
        (1_000_000_500_000, "1조 50만원"),
        (12_345_678_900_000, "12조 3,456억 7,890만원"),
        (-8_500_000, "-850만원"),
    ],
)
def test_format_krw(amount: int, expected: str) -> None:
    assert format_krw(amount) == expected


@pytest.mark.parametrize(
    ("age", "band"),
    [(5, "10세 미만"), (19, "10대 후반"), (20, "20대 초반"), (24, "20대 초반"), (25, "20대 후반"),
     (29, "20대 후반"), (34, "30대 초반"), (35, "30대 후반"), (60, "60대 초반"), (79, "70대 후반")],
)
def test_age_band(age: int, band: str) -> None:
    assert age_band(age) == band


def test_asset_mix_rounds_to_exactly_100_largest_first() -> None:
    assert asset_mix({"현금": 1, "주식": 1, "예적금": 1}) == [("예적금", 34), ("주식", 33), ("현금", 33)]
    assert asset_mix({"주식": 0, "현금": 0}) == []
    assert asset_mix({}) == []
    mix = asset_mix({"부동산": 99_700, "현금": 300})
    assert mix == [("부동산", 100), ("현금", 0)]
    text = persona_text(_user(assets={"부동산": 99_700 * MAN, "현금": 300 * MAN}))
    assert "자산 구성은 부동산 100%, 현금 1% 미만입니다." in text

    rng = random.Random(0)
    for _ in range(500):
        classes = rng.sample(["예적금", "주식", "펀드", "부동산", "연금", "현금"], rng.randint(1, 6))
        assets = {c: rng.choice([0, rng.randint(1, 10**10)]) for c in classes}
        mix = asset_mix(assets)
        if not any(assets.values()):
            assert mix == []
            continue
        assert sum(p for _, p in mix) == 100
        amounts = [assets[c] for c, _ in mix]
        assert amounts == sorted(amounts, reverse=True)  # largest holding first
        pcts = [p for _, p in mix]
        assert pcts == sorted(pcts, reverse=True)  # rounding never inverts the order
        total = sum(assets.values())
        assert all(abs(p - assets[c] * 100 / total) < 1 for c, p in mix)


def test_persona_is_deterministic_and_hash_tracks_content() -> None:
    a, b = _user(), _user()
    assert a is not b and persona_text(a) == persona_text(b)
    h = persona_hash(persona_text(a))
    assert h == hashlib.sha256(persona_text(b).encode("utf-8")).hexdigest() and len(h) == 64
    assert persona_hash("가") == "64ee5293d31bc58b72d76ae9a86a902e90442428e29f24f4ecb257ba841cdd36"
    changed = _user(keywords=("ETF", "내집마련", "절세"))
    assert persona_hash(persona_text(changed)) != h
    # dict insertion order of assets does not matter
    reordered = _user(assets=dict(reversed(list(_user().assets.items()))))
    assert persona_text(reordered) == persona_text(a)


def test_persona_for_seeded_demo_users(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'u.sqlite'}"
    seed_demo_users(url, 300, seed=1)
    engine = create_readonly_engine(url)
    users = [r for b in iter_user_partition(engine, "U0000001", "U0000300") for r in b]
    engine.dispose()
    texts = [persona_text(u) for u in users]
    assert len(users) == 300 and len(set(texts)) == 300
    for u, t in zip(users, texts, strict=True):
        assert t.startswith(f"{u.age}세({age_band(u.age)}) ")
        assert f"{RISK_PROFILE_KO[u.risk_profile]}(5단계 중 {u.risk_profile}단계)" in t
        assert f"총자산은 {format_krw(u.total_assets_krw)}이며" in t
        assert t.endswith(f"관심 키워드: {', '.join(u.keywords)}.")
