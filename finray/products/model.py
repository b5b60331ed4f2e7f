"""The one normalized product schema shared by parsers, jobs, stores and serving.

Deposits (예금), savings (적금), annuity savings (연금저축), funds (펀드) and loans come from
different feeds with different shapes; everything downstream sees only :class:`Product`.

Two derived fields matter for the pipeline:

* ``content_hash`` covers what a customer would see (names, rates, conditions, risk...), not
  bookkeeping such as first/last seen. Incremental embedding re-embeds a product only when this
  hash changes.
* ``rag_text`` is the Korean description that is embedded and keyword-indexed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from finray.products.codes import RISK_GRADE_KO  # noqa: F401 - re-exported for existing callers


class ProductType(StrEnum):
    DEPOSIT = "deposit"  # 정기예금
    SAVING = "saving"  # 적금
    ANNUITY = "annuity"  # 연금저축
    FUND = "fund"  # 펀드
    CREDIT_LOAN = "credit_loan"  # 개인신용대출
    MORTGAGE_LOAN = "mortgage_loan"  # 주택담보대출
    RENT_LOAN = "rent_loan"  # 전세자금대출

    @property
    def korean(self) -> str:
        return PRODUCT_TYPE_KO[self]

    @property
    def is_loan(self) -> bool:
        return self in (ProductType.CREDIT_LOAN, ProductType.MORTGAGE_LOAN, ProductType.RENT_LOAN)


PRODUCT_TYPE_KO: dict[ProductType, str] = {
    ProductType.DEPOSIT: "정기예금",
    ProductType.SAVING: "적금",
    ProductType.ANNUITY: "연금저축",
    ProductType.FUND: "펀드",
    ProductType.CREDIT_LOAN: "개인신용대출",
    ProductType.MORTGAGE_LOAN: "주택담보대출",
    ProductType.RENT_LOAN: "전세자금대출",
}


class JoinDeny(StrEnum):
    """finlife ``join_deny``: who may join."""

    NONE = "1"  # 제한없음
    LOW_INCOME_ONLY = "2"  # 서민전용
    PARTIAL = "3"  # 일부제한

    @property
    def korean(self) -> str:
        return {"1": "제한없음", "2": "서민전용", "3": "일부제한"}[self.value]




class RateOption(BaseModel):
    """One rate row: a term and rate type for deposits/savings, a credit band for loans."""

    model_config = ConfigDict(frozen=True)

    term_months: int | None = Field(None, ge=0, le=600)
    interest_type: str | None = None  # 단리 | 복리
    reserve_type: str | None = None  # 정액적립식 | 자유적립식 (savings only)
    base_rate: float | None = Field(None, ge=0, le=100)  # intr_rate: 저축금리 / 기본금리
    max_rate: float | None = Field(None, ge=0, le=100)  # intr_rate2: 최고우대금리
    label: str | None = None  # e.g. "신용 1~2등급 대출금리" for loans


class Product(BaseModel):
    """A normalized financial product from any source."""

    model_config = ConfigDict(frozen=True)

    product_id: str  # stable id: "<type>:<fin_co_no>:<fin_prdt_cd>" or "fund:<code>"
    product_type: ProductType
    source: str  # e.g. "finlife:deposit", "funds:kb"
    provider: str  # kor_co_nm / fund manager
    provider_code: str | None = None  # fin_co_no
    product_code: str  # fin_prdt_cd / fund code
    name: str
    fin_group: str | None = None  # topFinGrpNo (020000 은행, 030300 저축은행, ...)
    category: str | None = None  # 펀드 유형, 연금저축 종류, 대출 유형...

    rates: tuple[RateOption, ...] = ()
    preferential_conditions: str | None = None  # spcl_cnd 우대조건
    maturity_interest: str | None = None  # mtrt_int 만기 후 이자율
    join_channels: tuple[str, ...] = ()
    join_member: str | None = None
    join_deny: JoinDeny | None = None
    max_limit: int | None = Field(None, ge=0)  # 최고한도 (원)

    risk_grade: int | None = Field(None, ge=1, le=6)  # 1 매우높은위험 … 6 매우낮은위험
    fee_pct: float | None = Field(None, ge=0, le=100)  # 총보수 (%/년)
    recent_returns: dict[str, float] = Field(default_factory=dict)  # {"m1": .., "m12": ..} (%)
    guaranteed_rate_text: str | None = None  # 연금저축 최저보증이율 (free text)
    description: str | None = None  # one-liner / features / etc_note
    extra: dict[str, Any] = Field(default_factory=dict)  # source-specific facts worth keeping

    disclosure_month: str | None = None  # YYYYMM
    first_seen: date | None = None
    last_seen: date | None = None
    discontinued_on: date | None = None

    @field_validator("disclosure_month")
    @classmethod
    def _yyyymm(cls, v: str | None) -> str | None:
        if v is not None and not (len(v) == 6 and v.isdigit() and 1 <= int(v[4:]) <= 12):
            raise ValueError(f"disclosure_month must be YYYYMM, got {v!r}")
        return v

    # --- derived --------------------------------------------------------------------------
    @computed_field  # type: ignore[prop-decorator]
    @property
    def best_base_rate(self) -> float | None:
        vals = [r.base_rate for r in self.rates if r.base_rate is not None]
        return max(vals) if vals else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def best_max_rate(self) -> float | None:
        vals = [r.max_rate for r in self.rates if r.max_rate is not None]
        return max(vals) if vals else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def terms(self) -> tuple[int, ...]:
        return tuple(sorted({r.term_months for r in self.rates if r.term_months is not None}))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def content_hash(self) -> str:
        """sha256 over customer-visible content; bookkeeping dates are left out on purpose."""
        payload = self.model_dump(
            mode="json",
            exclude={"first_seen", "last_seen", "discontinued_on", "content_hash", "rag_text"},
        )
        blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rag_text(self) -> str:
        from finray.products.ragtext import render_rag_text

        return render_rag_text(self)

    @property
    def is_active(self) -> bool:
        return self.discontinued_on is None


class QuarantinedRecord(BaseModel):
    """A source record that could not become a :class:`Product`, kept with the reason."""

    source: str
    key: str  # best identifier we could read (fin_co_no/fin_prdt_cd, fund code, row number)
    reason: str
    raw: dict[str, Any]


class ParseResult(BaseModel):
    """Products that parsed and records that were quarantined; one bad record never stops a batch."""

    products: list[Product] = Field(default_factory=list)
    quarantined: list[QuarantinedRecord] = Field(default_factory=list)

    def extend(self, other: ParseResult) -> None:
        self.products.extend(other.products)
        self.quarantined.extend(other.quarantined)
