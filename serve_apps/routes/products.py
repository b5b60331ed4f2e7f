"""``GET /api/v1/products/search``: product search, hybrid (vector + keyword, RRF) by default."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from finray.agent.offline import key_numbers
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
    type: Annotated[list[ProductType] | None, Query(description="product types (repeatable)")] = None,
    provider: Annotated[list[str] | None, Query(description="financial companies, exact names (repeatable)")] = None,
    term_months: Annotated[int | None, Query(ge=1, le=600, description="only products offering this term")] = None,
    k: Annotated[int, Query(ge=1, le=50)] = 10,
    mode: SearchMode = SearchMode.HYBRID,
    include_discontinued: bool = False,
) -> SearchResponse:
    text = q.strip()
    if not text:
        raise InvalidRequest("query q: must not be blank")
    filters = ProductFilters(
        product_types=type or None, providers=provider or None, term_months=term_months,
        include_discontinued=include_discontinued,
    )
    vector = None
    if mode is not SearchMode.KEYWORD:
        vector = await services.handle("embedder").embed_query.remote(text)
    hits = await services.handle("retriever").search.remote(text, vector, services.embedder_name, filters, k, mode.value)
    return SearchResponse(
        query=text,
        mode=mode.value,
        hits=[
            SearchHit(**summarize(h.product, key_numbers(h.product, term_months)), score=h.score, rank=h.rank)
            for h in hits
        ],
        request_id=request_id,
    )
