"""``GET /api/v1/recommendations/{user_id}``: top-k products for the user's persona vector."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from finray.advice.presentation import IntentView
from finray.agent.service import AdviceRequest, AdviceResult
from finray.intent.model import Slot
from finray.chatlog import new_log_id
from finray.products.model import ProductType
from finray.stores.base import ProductFilters
from serve_apps.answers import record_answer, recommended_items
from serve_apps.api_models import ErrorBody, RecommendationResponse, excluded_item
from serve_apps.deps import RequestIdDep, ServicesDep, UserIdPath

router = APIRouter(tags=["recommendations"])


@router.get(
    "/recommendations/{user_id}",
    response_model=RecommendationResponse,
    responses={404: {"model": ErrorBody, "description": "no such user"}},
    summary="Personal recommendations with reasons, key numbers and suitability notes",
)
async def recommendations(
    user_id: UserIdPath,
    services: ServicesDep,
    request_id: RequestIdDep,
    type: Annotated[list[ProductType] | None, Query(description="product types (repeatable)")] = None,
    term_months: Annotated[int | None, Query(ge=1, le=600, description="only products offering this term")] = None,
    amount: Annotated[
        int | None,
        Query(ge=1, le=10**12, description="원 to put in (a 적금's monthly payment); products with a lower 최고한도 are left out"),
    ] = None,
    provider: Annotated[
        list[str] | None, Query(max_length=20, description="financial companies, exact names (repeatable)")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="a wish in words (\"우리은행 12개월 정기예금\"): read into conditions")
    ] = None,
    drop: Annotated[
        list[Slot] | None, Query(max_length=8, description="conditions not to read from q (chips the user removed)")
    ] = None,
    k: Annotated[int, Query(ge=1, le=10)] = 5,
) -> RecommendationResponse:
    started = time.perf_counter()
    request = AdviceRequest(
        user_id=user_id,
        question=(q or "").strip() or None,
        filters=ProductFilters(product_types=type or None, providers=provider or None, term_months=term_months),
        k=k,
        amount_krw=amount,
        drop=tuple(drop or ()),
    )
    result: AdviceResult = await services.handle("advisor").recommend.remote(request)
    log_id = new_log_id()
    record_answer(
        services, log_id=log_id, kind="recommendation", question=request.question or "맞춤 상품 추천", result=result,
        latency_ms=(time.perf_counter() - started) * 1000, request_id=request_id,
        extra={"filters": {"type": [t.value for t in type or []], "term_months": term_months,
                           "amount": amount, "provider": provider or [], "k": k}},
    )
    return RecommendationResponse(
        user_id=user_id,
        items=recommended_items(result),
        excluded=[excluded_item(e) for e in result.excluded],
        summary=result.answer,
        intent=IntentView.of(result.intent),
        notices=result.notices,
        comparison=result.comparison,
        computed=result.computed,
        generator=result.generator,
        verified=result.verified,
        log_id=log_id,
        request_id=request_id,
    )
