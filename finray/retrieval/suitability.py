"""적합성 원칙 (suitability rule): which product risk grades a customer's 투자성향 allows.

Korean law (금융소비자보호법 제17조, 자본시장법 제46조) forbids *recommending* a 투자성 상품 whose
risk exceeds what the customer's 투자성향 can bear. The matrix below is the one in the 금융투자협회
표준투자권유준칙 example for the scoring method (점수화 방식) on the 6-grade product scale, as
securities firms publish it (e.g. 키움증권 "고객투자성향 및 금융투자상품 분류")::

    투자성향        allowed product risk grades (1 = 매우높은위험 … 6 = 매우낮은위험)
    1 안정형        6
    2 안정추구형    5–6
    3 위험중립형    4–6
    4 적극투자형    2–6
    5 공격투자형    1–6

적극투자형 → 2–6 (not 3–6): the standard table lets 적극투자형 take 높은위험 (2등급) products and
keeps only 매우높은위험 (1등급: leveraged/derivative funds, ELW, 원금비보장 종목형 ELS …) for
공격투자형. Firms may adopt a stricter in-house table; it is one dict to change here.

Products without an investment risk grade:

* 예금·적금 (예금성 상품) and 연금저축보험/신탁 carry no 투자위험 and are suitable for every 투자성향.
* Loans (대출성 상품) are judged on income, credit and repayment plan (금소법 제17조제2항), not on
  투자성향, so this rule never excludes them; the note says so.
* An *investment* product with no grade (a fund, a 연금저축펀드) cannot be checked against the
  matrix; it is excluded unless the customer is 공격투자형 (who may take any grade), because the
  rule is "recommend only what you can show is suitable", not "recommend what you cannot rule out".

A customer whose 투자성향 is unknown (``risk_profile=None``) may not be given any 투자성 상품
recommendation at all (표준투자권유준칙: no 투자자정보, no 투자권유); deposits and loans still pass.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from finray.products.model import RISK_GRADE_KO, Product, ProductType
from finray.users.models import RISK_PROFILE_KO

#: 투자성향 → the riskiest product risk grade that may be recommended (grade >= this is allowed).
RISKIEST_ALLOWED_GRADE: dict[int, int] = {1: 6, 2: 5, 3: 4, 4: 2, 5: 1}

#: Used in :class:`~finray.stores.base.ProductFilters` for an unknown 투자성향: no graded product passes.
NO_GRADED_PRODUCTS = 7

# 권역 codes (topFinGrpNo) whose deposits are covered by 예금보험공사 (은행, 저축은행).
_DEPOSIT_INSURED_GROUPS = frozenset({"020000", "030300"})


class SuitabilityVerdict(BaseModel):
    """Whether a product may be recommended to a customer, and a Korean note saying why."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    note: str


def profile_name(risk_profile: int | None) -> str:
    """``3 → "위험중립형"``; an unknown profile reads "미확인"."""
    if risk_profile is None:
        return "미확인"
    return RISK_PROFILE_KO[_checked(risk_profile)]


def _checked(risk_profile: int) -> int:
    if risk_profile not in RISKIEST_ALLOWED_GRADE:
        raise ValueError(f"risk_profile must be 1..5 (투자성향), got {risk_profile!r}")
    return risk_profile


def max_risk_grade_riskiest(risk_profile: int | None) -> int:
    """The value for ``ProductFilters.max_risk_grade_riskiest``: graded products need grade >= it.

    Unknown 투자성향 gives :data:`NO_GRADED_PRODUCTS` (7), which no graded product reaches, while
    ungraded ones (deposits, loans) still pass the store filter as documented there.
    """
    if risk_profile is None:
        return NO_GRADED_PRODUCTS
    return RISKIEST_ALLOWED_GRADE[_checked(risk_profile)]


def allowed_grades_text(risk_profile: int | None) -> str:
    """``2 → "5~6등급"``, ``1 → "6등급"``; the range the customer may be offered."""
    if risk_profile is None:
        return "없음"
    lo = max_risk_grade_riskiest(risk_profile)
    return "6등급" if lo == 6 else f"{lo}~6등급"


def _allowed_phrase(riskiest: int) -> str:
    return f"{grade_text(6)} 상품만" if riskiest == 6 else f"{riskiest}~6등급 상품까지"


def grade_text(grade: int) -> str:
    """``2 → "2등급(높은위험)"``."""
    return f"{grade}등급({RISK_GRADE_KO[grade]})"


def _is_investment(product: Product) -> bool:
    """Products whose value can fall with markets (what 투자성향 is about)."""
    if product.product_type is ProductType.FUND:
        return True
    if product.product_type is ProductType.ANNUITY:
        return "펀드" in (product.category or "")
    return False


def _topic(word: str) -> str:
    """``word`` + the topic particle 은/는 chosen by its last syllable's final consonant."""
    last = word[-1:] if word else ""
    if "가" <= last <= "힣":
        return word + ("은" if (ord(last) - 0xAC00) % 28 else "는")
    return word + "는"


def _kind_ko(product: Product) -> str:
    if product.product_type is ProductType.ANNUITY and product.category:
        return product.category
    return product.product_type.korean


def check(product: Product, risk_profile: int | None) -> SuitabilityVerdict:
    """Apply the 적합성 rule to one product for one 투자성향 (``None`` = not known)."""
    name = profile_name(risk_profile)
    ptype = product.product_type

    if ptype.is_loan:
        return SuitabilityVerdict(
            allowed=True,
            note=(
                "대출상품은 투자성향이 아니라 소득·신용·상환계획으로 적합성을 판단하며, "
                "실제 금리와 한도는 심사 후 정해집니다."
            ),
        )

    grade = product.risk_grade
    if grade is None:
        if not _is_investment(product):
            if ptype in (ProductType.DEPOSIT, ProductType.SAVING):
                insured = product.fin_group in _DEPOSIT_INSURED_GROUPS
                protection = (
                    "예금자보호 대상(1인당 금융회사별 원금과 이자를 합해 최고 1억원)인 "
                    if insured
                    else "투자위험등급이 없는 "
                )
                return SuitabilityVerdict(
                    allowed=True,
                    note=f"{protection}{ptype.korean} 상품으로 모든 투자성향에 적합합니다.",
                )
            return SuitabilityVerdict(
                allowed=True,
                note=f"투자위험등급이 적용되지 않는 {_kind_ko(product)} 상품으로 모든 투자성향에 적합합니다.",
            )
        if risk_profile is not None and max_risk_grade_riskiest(risk_profile) == 1:
            return SuitabilityVerdict(
                allowed=True,
                note=(
                    f"위험등급 정보가 없는 {_kind_ko(product)}이지만 투자성향({name})은 모든 "
                    "위험등급 상품에 투자할 수 있습니다. 가입 전 위험등급을 꼭 확인하세요."
                ),
            )
        return SuitabilityVerdict(
            allowed=False,
            note=(
                f"위험등급 정보가 없는 {_topic(_kind_ko(product))} 고객님의 투자성향에 맞는지 확인할 수 "
                "없어 제외했습니다."
            ),
        )

    if risk_profile is None:
        return SuitabilityVerdict(
            allowed=False,
            note=(
                "투자성향 정보가 없으면 투자성 상품을 권유할 수 없어 "
                f"{grade_text(grade)} {_topic(_kind_ko(product))} 제외했습니다."
            ),
        )

    riskiest = max_risk_grade_riskiest(risk_profile)
    if grade >= riskiest:
        return SuitabilityVerdict(
            allowed=True,
            note=f"투자성향({name})에 적합한 {grade_text(grade)} 상품입니다.",
        )
    return SuitabilityVerdict(
        allowed=False,
        note=(
            f"고객님의 투자성향({name})에는 {_allowed_phrase(riskiest)} 권유할 수 있어, "
            f"{grade_text(grade)} {_topic(_kind_ko(product))} 제외했습니다."
        ),
    )
