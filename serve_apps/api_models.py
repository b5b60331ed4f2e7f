"""Typed request and response bodies of the HTTP API (they generate the OpenAPI schema at /docs)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from finray.products.model import Product, ProductType

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
    hits: list[SearchHit]
    request_id: str


class RecommendedProduct(ProductSummary):
    reason: str
    suitability_note: str
    score: float


class ExcludedProduct(BaseModel):
    product_id: str
    name: str
    reason: str


class RecommendationResponse(BaseModel):
    user_id: str
    items: list[RecommendedProduct]
    excluded: list[ExcludedProduct]
    summary: str
    generator: str
    verified: bool
    request_id: str


class ChatRequest(BaseModel):
    user_id: str = Field(pattern=USER_ID_PATTERN, examples=["U0000001"])
    question: str = Field(min_length=1, max_length=2000, examples=["12개월 정기예금 중 금리가 높은 상품 추천해 주세요"])
    persona: str | None = Field(None, max_length=2000, description="overrides the stored persona text")
    product_types: list[ProductType] | None = None
    k: int = Field(3, ge=1, le=10)


class FeedbackRequest(BaseModel):
    user_id: str = Field(pattern=USER_ID_PATTERN)
    target: Literal["product", "answer"]
    target_id: str = Field(min_length=1, max_length=200)
    rating: Literal["like", "dislike"]
    comment: str | None = Field(None, max_length=1000)


class FeedbackResponse(BaseModel):
    feedback_id: str
    stored: bool = True


class VectorizeResponse(BaseModel):
    user_id: str
    persona: str
    embedder: str
    dim: int
    changed: bool  # the persona differed from the stored one


class LogPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[dict]


class DateRange(BaseModel):
    start: date
    end: date


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
