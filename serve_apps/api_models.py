"""Typed request and response bodies of the HTTP API (they generate the OpenAPI schema at /docs)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from finray.admin_stats import DayTrend, FeedbackDistribution, Overview, UserUsage
from finray.advice.presentation import Comparison, ComputedInterest, IntentView
from finray.agent.state import CitedProduct
from finray.chatlog import LOG_ID_PATTERN
from finray.intent.model import Slot
from finray.products.model import Product, ProductType
from finray.retrieval.rerank import Excluded
from finray.stores.base import ChatLog

USER_ID_PATTERN = r"^U\d{7}$"


class ErrorBody(BaseModel):
    error: str  # machine-readable kind, e.g. "not_found", "invalid_request"
    detail: str  # what was wrong, for a person
    request_id: str | None = None


class ProductSummary(BaseModel):
    """What a list of products shows per item: who, what, and the key numbers."""

    product_id: str
    name: str
    provider: str
    product_type: ProductType
    product_type_ko: str
    key_numbers: dict[str, str]
    risk_grade: int | None = None
    terms: list[int] = Field(default_factory=list)
    disclosure_month: str | None = None


class SearchHit(ProductSummary):
    score: float
    rank: int


class SearchResponse(BaseModel):
    query: str
    mode: Literal["hybrid", "vector", "keyword"]
    intent: IntentView  # what was understood; its constraints filtered the hits
    notices: list[str] = Field(default_factory=list)  # e.g. "6개월 상품이 없어 9개월 상품을 안내합니다."
    hits: list[SearchHit]
    request_id: str


class RecommendedProduct(ProductSummary):
    reason: str
    suitability_note: str
    score: float
    alternative_note: str | None = None  # set when it is a nearest alternative, not a match


class ExcludedProduct(BaseModel):
    product_id: str
    name: str
    kind: Literal["disliked", "unsuitable"]
    reason: str  # Korean, for the customer (e.g. why the 투자성향 rules it out)


class RecommendationResponse(BaseModel):
    user_id: str
    items: list[RecommendedProduct]
    excluded: list[ExcludedProduct]
    summary: str  # the whole verified answer text (intro, one line per product, cautions)
    intent: IntentView
    notices: list[str] = Field(default_factory=list)
    comparison: Comparison | None = None  # a rate question: the products side by side
    computed: list[ComputedInterest] = Field(default_factory=list)  # an amount: interest per product
    generator: str  # "offline" | "gemini" | "gemini→offline"
    verified: bool  # every name and number in the text matched the catalogue
    log_id: str  # send it back as target_id to rate this answer
    request_id: str


class ChatRequest(BaseModel):
    user_id: str = Field(pattern=USER_ID_PATTERN, examples=["U0000001"])
    question: str = Field(min_length=1, max_length=2000, examples=["12개월 정기예금 중 금리가 높은 상품 추천해 주세요"])
    persona: str | None = Field(
        None, max_length=2000, description="overrides the stored persona text (the 투자성향 always comes from the user DB)"
    )
    product_types: list[ProductType] | None = Field(None, max_length=7, description="overrides the types read from the question")
    term_months: int | None = Field(None, ge=1, le=600, description="only products offering this term (overrides the question)")
    provider: list[str] | None = Field(
        None, max_length=20, description="financial companies, exact catalogue names (overrides the question)"
    )
    amount: int | None = Field(None, ge=1, le=10**12, description="원 to put in; a 적금's monthly payment (overrides the question)")
    drop: list[Slot] = Field(
        default_factory=list, max_length=8,
        description="slots not to read from the question (the user removed their chips)",
    )
    k: int = Field(3, ge=1, le=10)


    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()


class ChatMeta(BaseModel):
    """First SSE event (``event: meta``): what was retrieved and left out, before any text."""

    log_id: str
    request_id: str
    candidates: int
    recommended: int
    excluded: list[ExcludedProduct]
    generator: Literal["offline", "gemini"]
    intent: IntentView
    notices: list[str] = Field(default_factory=list)


class ChatDelta(BaseModel):
    """``event: delta``: the next piece of the answer text; concatenate them in order."""

    text: str


class ChatDone(BaseModel):
    """Last SSE event (``event: done``): the whole verified answer and the products it cites."""

    log_id: str
    request_id: str
    answer: str
    cited: list[CitedProduct]
    excluded: list[ExcludedProduct]
    intent: IntentView
    notices: list[str] = Field(default_factory=list)
    comparison: Comparison | None = None
    computed: list[ComputedInterest] = Field(default_factory=list)
    generator: str
    verified: bool
    latency_ms: float


class FeedbackRequest(BaseModel):
    user_id: str = Field(pattern=USER_ID_PATTERN)
    target: Literal["product", "answer"]
    target_id: str = Field(
        min_length=1, max_length=200,
        description="product_id for a product, the answer's log_id (from the response) for an answer",
    )
    rating: Literal["like", "dislike"]
    comment: str | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _answer_ids_are_log_ids(self) -> FeedbackRequest:
        import re

        if self.target == "answer" and not re.fullmatch(LOG_ID_PATTERN, self.target_id):
            raise ValueError(f"target_id: an answer is rated by its log_id (log_ + 32 hex), got {self.target_id!r:.60}")
        return self


class FeedbackResponse(BaseModel):
    feedback_id: str
    stored: bool = True
    created_at: datetime


class VectorizeResponse(BaseModel):
    user_id: str
    persona: str
    embedder: str
    dim: int
    changed: bool  # the persona differed from the stored one


class LogPage(BaseModel):
    total: int  # logs matching the filters (for pagination)
    offset: int
    limit: int
    start: date | None = None
    end: date | None = None
    items: list[ChatLog]  # newest first


class OverviewResponse(Overview):
    start: date | None = None
    end: date | None = None


class TrendsResponse(BaseModel):
    start: date
    end: date
    days: list[DayTrend]


class FeedbackStatsResponse(FeedbackDistribution):
    start: date | None = None
    end: date | None = None


class UserUsagePage(BaseModel):
    total: int
    offset: int
    limit: int
    start: date | None = None
    end: date | None = None
    items: list[UserUsage]


def excluded_item(e: Excluded) -> ExcludedProduct:
    return ExcludedProduct(product_id=e.product_id, name=e.name, kind=e.kind, reason=e.reason)


def summarize(product: Product, key_numbers: dict[str, str]) -> dict:
    return {
        "product_id": product.product_id,
        "name": product.name,
        "provider": product.provider,
        "product_type": product.product_type,
        "product_type_ko": product.product_type.korean,
        "key_numbers": key_numbers,
        "risk_grade": product.risk_grade,
        "terms": list(product.terms),
        "disclosure_month": product.disclosure_month,
    }


def utc_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC).replace(tzinfo=None)
