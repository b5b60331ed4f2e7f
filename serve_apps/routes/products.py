"""``GET /api/v1/products/search``: product search, hybrid (vector + keyword, RRF) by default."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from finray.advice.presentation import IntentView
from finray.agent.offline import key_numbers
from finray.agent.state import IntentOverrides
from finray.intent.model import Slot
from finray.products.model import ProductType
from finray.retrieval.search import SearchMode
from finray.stores.base import ProductFilters
from serve_apps.api_models import SearchHit, SearchResponse, summarize
from serve_apps.deps import RequestIdDep, ServicesDep
from serve_apps.errors import InvalidRequest

router = APIRouter(tags=["products"])


@router.get("/products/search", response_model=SearchResponse, summary="Search products (hybrid, vector or keyword)")
async def search_products(
    services: ServicesDep,
    request_id: RequestIdDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="search text (Korean)")],
    type: Annotated[list[ProductType] | None, Query(max_length=7, description="product types (repeatable)")] = None,
    provider: Annotated[
        list[str] | None, Query(max_length=20, description="financial companies, exact names (repeatable)")
    ] = None,
    term_months: Annotated[int | None, Query(ge=1, le=600, description="only products offering this term")] = None,
    k: Annotated[int, Query(ge=1, le=50)] = 10,
    mode: SearchMode = SearchMode.HYBRID,
    include_discontinued: bool = False,
    drop: Annotated[
        list[Slot] | None, Query(max_length=8, description="conditions not to read from q (chips the user removed)")
    ] = None,
) -> SearchResponse:
    text = q.strip()
    if not text:
        raise InvalidRequest("query q: must not be blank")
    filters = ProductFilters(include_discontinued=include_discontinued)
    overrides = IntentOverrides(product_types=type or None, term_months=term_months, providers=provider or None,
                                drop=list(drop or ()))
    retriever = services.handle("retriever")
    vector = None
    if mode is not SearchMode.KEYWORD:
        vector = await services.handle("embedder").embed_query.remote(text)
    intent = await retriever.understand.remote(text, overrides)
    found = await retriever.search_intent.remote(text, vector, services.embedder_name, intent, filters, k, mode.value)
    return SearchResponse(
        query=text,
        mode=mode.value,
        intent=IntentView.of(intent),
        notices=found.notices,
        hits=[
            SearchHit(**summarize(h.product, key_numbers(h.product, intent.term_months)), score=h.score, rank=h.rank)
            for h in found.hits
        ],
        request_id=request_id,
    )
