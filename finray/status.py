"""What ``GET /`` reports: version, active backends and how fresh the catalogue is per source.

Kept out of the Serve app so it is a plain function of (settings, store) and testable alone.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel

from finray import __version__
from finray.config import Settings
from finray.stores.base import SourceStatus, Store


class SourceFreshness(BaseModel):
    source: str
    last_success_at: datetime | None
    last_run_at: datetime | None
    last_error: str | None
    disclosure_month: str | None
    active: int
    discontinued: int


class CatalogueSummary(BaseModel):
    total_active: int
    by_type: dict[str, int]  # active products per product type
    indexed: int  # products with a vector (searchable)
    index_embedder: str | None
    sources: list[SourceFreshness]


class ServiceStatus(BaseModel):
    status: str
    version: str
    env: str
    backends: dict[str, str]
    catalogue: CatalogueSummary


def catalogue_summary(store: Store) -> CatalogueSummary:
    products = store.catalogue(include_discontinued=True)
    active = [p for p in products if p.is_active]
    by_type = Counter(p.product_type.value for p in active)
    discontinued = Counter(p.source for p in products if not p.is_active)
    statuses: dict[str, SourceStatus] = {s.source: s for s in store.source_statuses()}
    active_by_source = Counter(p.source for p in active)
    sources = [
        SourceFreshness(
            source=name,
            last_success_at=st.last_success_at if st else None,
            last_run_at=st.last_run_at if st else None,
            last_error=st.last_error if st else None,
            disclosure_month=st.disclosure_month if st else None,
            active=active_by_source.get(name, 0),
            discontinued=discontinued.get(name, 0),
        )
        for name in sorted(set(statuses) | set(active_by_source))
        for st in [statuses.get(name)]
    ]
    info = store.product_index_info()
    return CatalogueSummary(
        total_active=len(active),
        by_type=dict(sorted(by_type.items())),
        indexed=len(store.product_vector_hashes()),
        index_embedder=f"{info.embedder} ({info.dim}-d)" if info else None,
        sources=sources,
    )


def service_status(settings: Settings, store: Store) -> ServiceStatus:
    summary = catalogue_summary(store)
    return ServiceStatus(
        status="ok" if summary.total_active else "empty catalogue: run the data jobs",
        version=__version__,
        env=settings.env,
        backends=settings.backends(),
        catalogue=summary,
    )
