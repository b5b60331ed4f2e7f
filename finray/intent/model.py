"""What a question asks for, as one typed value: :class:`QueryIntent`.

Two kinds of slot, treated differently downstream:

* **constraints** (product types, term, amount, providers, provider classes, channels,
  eligibility) are binding: a product that breaks one is not an answer to the question;
* **objectives** (highest rate, lowest risk, 원금보장 …) only decide the order among the products
  that satisfy every constraint.

Every response carries the intent back (:meth:`QueryIntent.chips`) so a client can show
"12개월 · 정기예금 · 금리 높은 순" and let the customer correct it; a corrected intent sent with
the request replaces what the text says.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from finray.products.model import ProductType


class ProviderClass(StrEnum):
    BANK = "bank"  # 은행 (시중·지방·특수·인터넷은행)
    SAVINGS_BANK = "savings_bank"  # 저축은행
    INTERNET_BANK = "internet_bank"  # 인터넷전문은행
    INSURER = "insurer"  # 보험사
    ASSET_MANAGER = "asset_manager"  # 자산운용사

    @property
    def korean(self) -> str:
        return _PROVIDER_CLASS_KO[self]


_PROVIDER_CLASS_KO = {
    ProviderClass.BANK: "은행",
    ProviderClass.SAVINGS_BANK: "저축은행",
    ProviderClass.INTERNET_BANK: "인터넷은행",
    ProviderClass.INSURER: "보험사",
    ProviderClass.ASSET_MANAGER: "자산운용사",
}


class Channel(StrEnum):
    MOBILE = "mobile"  # 스마트폰·모바일 앱
    ONLINE = "online"  # 비대면 (인터넷·모바일)
    BRANCH = "branch"  # 영업점

    @property
    def korean(self) -> str:
        return {"mobile": "스마트폰 가입", "online": "비대면 가입", "branch": "영업점 가입"}[self.value]


class Eligibility(StrEnum):
    YOUTH = "youth"  # 청년
    FIRST_CUSTOMER = "first_customer"  # 첫거래
    SALARY_TRANSFER = "salary_transfer"  # 급여이체
    SENIOR = "senior"  # 시니어·노인

    @property
    def korean(self) -> str:
        return {"youth": "청년", "first_customer": "첫거래", "salary_transfer": "급여이체", "senior": "시니어"}[
            self.value
        ]


class Objective(StrEnum):
    HIGHEST_RATE = "highest_rate"  # 금리 높은 순 (예적금, 연금 공시이율)
    LOWEST_RATE = "lowest_rate"  # 금리 낮은 순 (대출)
    LOWEST_RISK = "lowest_risk"  # 안전한, 위험 낮은
    PRINCIPAL_PROTECTED = "principal_protected"  # 원금보장, 원금 손실 없는
    TAX_BENEFIT = "tax_benefit"  # 세액공제, 절세, 비과세
    INCOME = "income"  # 배당, 인컴, 이자 수익

    @property
    def korean(self) -> str:
        return _OBJECTIVE_KO[self]


_OBJECTIVE_KO = {
    Objective.HIGHEST_RATE: "금리 높은 순",
    Objective.LOWEST_RATE: "금리 낮은 순",
    Objective.LOWEST_RISK: "위험 낮은 순",
    Objective.PRINCIPAL_PROTECTED: "원금보장",
    Objective.TAX_BENEFIT: "세제혜택",
    Objective.INCOME: "배당·인컴",
}

AmountPeriod = Literal["once", "monthly"]
Slot = Literal[
    "product_types", "categories", "term_months", "amount", "providers", "provider_classes", "channels",
    "eligibility", "objectives",
]
SlotSource = Literal["text", "request", "model"]


class IntentChip(BaseModel):
    """One understood fact, as a client shows it ("12개월") and can remove it (``slot``/``value``)."""

    slot: Slot
    value: str
    label: str


class QueryIntent(BaseModel):
    """What a Korean question asks for (see the module docstring for constraints vs objectives)."""

    model_config = ConfigDict(frozen=True)

    product_types: list[ProductType] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list, max_length=10)  # catalogue categories: 채권형, MMF …
    term_months: int | None = Field(None, ge=1, le=600)
    amount_krw: int | None = Field(None, ge=1, le=10**13)
    amount_period: AmountPeriod | None = None  # "monthly": a 적금 payment ("월 50만원")
    providers: list[str] = Field(default_factory=list, max_length=200)  # catalogue names
    provider_mentions: list[str] = Field(default_factory=list, max_length=20)  # as written
    provider_classes: list[ProviderClass] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    eligibility: list[Eligibility] = Field(default_factory=list)
    objectives: list[Objective] = Field(default_factory=list)
    unresolved_providers: list[str] = Field(default_factory=list, max_length=20)  # named, not in the catalogue
    source: dict[str, SlotSource] = Field(default_factory=dict)  # slot → who set it

    @property
    def is_empty(self) -> bool:
        return not any(
            (self.product_types, self.categories, self.term_months, self.amount_krw, self.providers, self.provider_classes,
             self.channels, self.eligibility, self.objectives)
        )

    @property
    def wants_rate_order(self) -> bool:
        return Objective.HIGHEST_RATE in self.objectives or Objective.LOWEST_RATE in self.objectives

    def chips(self) -> list[IntentChip]:
        """The understood facts in reading order, each removable on its own."""
        out: list[IntentChip] = []
        if self.term_months is not None:
            out.append(IntentChip(slot="term_months", value=str(self.term_months), label=term_label(self.term_months)))
        for t in self.product_types:
            out.append(IntentChip(slot="product_types", value=t.value, label=t.korean))
        for c in self.categories:
            out.append(IntentChip(slot="categories", value=c, label=c))
        for name in self.provider_mentions or self.providers:
            out.append(IntentChip(slot="providers", value=name, label=name))
        for c in self.provider_classes:
            out.append(IntentChip(slot="provider_classes", value=c.value, label=c.korean))
        if self.amount_krw is not None:
            label = won_label(self.amount_krw)
            out.append(IntentChip(
                slot="amount", value=str(self.amount_krw), label=f"월 {label}" if self.amount_period == "monthly" else label
            ))
        for ch in self.channels:
            out.append(IntentChip(slot="channels", value=ch.value, label=ch.korean))
        for e in self.eligibility:
            out.append(IntentChip(slot="eligibility", value=e.value, label=e.korean))
        for o in self.objectives:
            out.append(IntentChip(slot="objectives", value=o.value, label=o.korean))
        return out

    def summary(self) -> str:
        """"12개월 · 정기예금 · 금리 높은 순" (empty when nothing was understood)."""
        return " · ".join(c.label for c in self.chips())


def term_label(months: int) -> str:
    """"12개월" (terms are always shown in months, as the FSS tables show them)."""
    return f"{months}개월"


def won_label(amount: int) -> str:
    """Korean money as people write it: 30,000,000 → "3,000만원", 500,000 → "50만원", 12,345 → "12,345원"."""
    if amount >= 100_000_000 and amount % 100_000_000 == 0:
        return f"{amount // 100_000_000:,}억원"
    if amount >= 100_000_000 and amount % 10_000 == 0:
        eok, man = divmod(amount // 10_000, 10_000)
        return f"{eok:,}억 {man:,}만원"
    if amount >= 10_000 and amount % 10_000 == 0:
        return f"{amount // 10_000:,}만원"
    return f"{amount:,}원"
