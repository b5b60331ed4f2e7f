"""Typed state of the advisor graph, and the records it hands back.

The graph's state is a ``TypedDict`` (LangGraph merges node outputs key by key); the values are
pydantic models so every piece crossing the graph boundary is validated and serializable.
:class:`AdvisorInput` and :class:`AdvisorOutput` are the graph's input and output schemas, so
callers pass only the request fields and get back only the answer fields.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from finray.agent.verify import Verification
from finray.intent.model import QueryIntent
from finray.products.model import ProductType
from finray.retrieval.rerank import Excluded, RankedProduct
from finray.stores.base import Feedback, ProductFilters, ProductHit

if TYPE_CHECKING:
    from finray.users.db import UserRecord

Generator = Literal["offline", "gemini", "gemini→offline"]

_KEYWORDS_RE = re.compile(r"관심 키워드:\s*([^.\n]+)")


class Persona(BaseModel):
    """What the advisor knows about the customer.

    ``risk_profile`` is the 투자성향 1–5 (1 안정형 … 5 공격투자형), ``None`` when it was never
    assessed; ``persona`` is the Korean narrative from :func:`finray.users.persona.persona_text`.
    """

    model_config = ConfigDict(frozen=True)

    user_id: str
    risk_profile: int | None = Field(None, ge=1, le=5)
    persona: str = ""
    keywords: tuple[str, ...] = ()

    @property
    def interest_keywords(self) -> tuple[str, ...]:
        """Explicit keywords, else the ones in the persona's "관심 키워드: a, b." sentence."""
        if self.keywords:
            return self.keywords
        m = _KEYWORDS_RE.search(self.persona)
        if not m:
            return ()
        return tuple(k.strip() for k in m.group(1).split(",") if k.strip())

    @classmethod
    def from_user_record(cls, user: UserRecord) -> Persona:
        """Build from a user DB record (persona text from :func:`finray.users.persona.persona_text`)."""
        from finray.users.persona import persona_text

        return cls(
            user_id=user.user_id,
            risk_profile=user.risk_profile,
            persona=persona_text(user),
            keywords=tuple(user.keywords),
        )


class IntentOverrides(BaseModel):
    """Request fields that win over what is read from the question, and slots the user removed."""

    model_config = ConfigDict(frozen=True)

    product_types: list[ProductType] | None = None
    term_months: int | None = None
    providers: list[str] | None = None
    amount_krw: int | None = None
    drop: list[str] = Field(default_factory=list)

    def as_kwargs(self) -> dict:
        return {"product_types": self.product_types, "term_months": self.term_months,
                "providers": self.providers, "amount_krw": self.amount_krw, "drop": list(self.drop)}


class CitedProduct(BaseModel):
    """A product the answer recommends: why, and the facts behind it (from data, never the model)."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    name: str
    provider: str
    product_type: ProductType
    reason: str
    key_numbers: dict[str, str] = Field(default_factory=dict)  # e.g. {"최고금리": "연 3.85%"}
    suitability_note: str = ""
    score: float = 0.0
    alternative_note: str | None = None  # "6개월 상품이 없어 9개월 상품을 안내합니다." when not a match


class AdvisorInput(TypedDict, total=False):
    """What a caller passes to the graph: ``user_id`` is required, the rest optional."""

    user_id: str
    question: str | None  # None: a plain recommendation for the persona
    filters: ProductFilters | None
    intent: QueryIntent | None  # what the question (and the request's fields) ask for
    k: int


class AdvisorOutput(TypedDict, total=False):
    """What the graph returns."""

    answer: str  # Korean answer text
    cited: list[CitedProduct]
    excluded: list[Excluded]
    generator: Generator
    verification: Verification
    regenerated: bool  # the model's first answer failed verification and it was asked again
    fallback_reason: str | None  # why the offline generator took over from the model, if it did


class AdvisorState(AdvisorInput, AdvisorOutput, total=False):
    """Everything the nodes read and write."""

    persona: Persona
    feedback: list[Feedback]
    hits: list[ProductHit]
    ranked: list[RankedProduct]
    notices: list[str]  # relaxations the answer must state ("6개월 상품이 없어 …")
    attempts: int  # model generations so far
    problems: list[str]  # verification problems fed back to the next model attempt
    model_error: str | None
