"""embed_products and embed_users through Ray Data: incremental, upserting, partitioned reads."""

from __future__ import annotations

import os
from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import text

from data_jobs import collect_products, embed_products, embed_users
from data_jobs.embed_users import partitions_for
from finray.embeddings.e5 import E5Embedder
from finray.stores.base import ProductFilters
from finray.stores.factory import open_store
from finray.users.db import create_admin_engine
from finray.users.demo import seed_demo_users

pytestmark = pytest.mark.usefixtures("ray_session")


def test_embed_products_is_incremental(make_settings) -> None:
    # two small real sources (8 loans + 90 연금저축) keep the offline embedder's work to ~30 s
    settings = make_settings()
    collect_products.run(settings, now=datetime(2026, 11, 22, 3), sources=["finlife:credit_loan", "finlife:annuity"])
    store = open_store(settings)
    n = len(store.catalogue())

    first = embed_products.run(settings)
    assert first.counts["embedded"] == n == 98
    assert len(store.product_vector_hashes()) == n

    again = embed_products.run(settings)
    assert again.counts["embedded"] == 0 and again.counts["unchanged"] == n

    # a changed product (new content hash) is the only one re-embedded
    p = store.catalogue(source="finlife:credit_loan")[0]
    store.upsert_catalogue([p.model_copy(update={"name": p.name + " (개정)"})])
    third = embed_products.run(settings)
    assert third.counts["embedded"] == 1

    # the stored vector is the e5 passage vector of the product's rag_text: search finds it
    e5 = E5Embedder()
    changed = store.get_products([p.product_id])[0]
    hits = store.vector_search(e5.embed_passages([changed.rag_text])[0].tolist(), 3, ProductFilters(), e5.name)
    assert hits[0].product.product_id == p.product_id and hits[0].score > 0.99


def test_embed_users_partitions_and_skips_unchanged(make_settings) -> None:
    settings = make_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    seed_demo_users(settings.resolved_user_db_url, 120, seed=7)

    first = embed_users.run(settings, partitions=4)
    assert first.counts["embedded"] == 120 and first.counts["partitions"] == 4
    store = open_store(settings)
    u = store.get_user_vector("U0000001")
    assert u is not None and len(u.vector) == 384 and "투자성향" in u.persona
    assert abs(np.linalg.norm(u.vector) - 1.0) < 1e-3

    again = embed_users.run(settings, partitions=3)
    assert again.counts["embedded"] == 0

    # one user's keywords change → only that persona is re-embedded
    engine = create_admin_engine(settings.resolved_user_db_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO keywords (user_id, keyword) VALUES ('U0000005', '배당주')"))
    engine.dispose()
    third = embed_users.run(settings, partitions=5)
    assert third.counts["embedded"] == 1
    assert "배당주" in store.get_user_vector("U0000005").persona


def test_partition_sizing() -> None:
    assert partitions_for(10) == 2 and partitions_for(1_000_000) == 200


@pytest.mark.skipif(not os.environ.get("FINRAY_TEST_MYSQL_URL"), reason="set FINRAY_TEST_MYSQL_URL to run against MariaDB/MySQL")
def test_embed_users_reads_mariadb_in_partitions(make_settings) -> None:
    url = os.environ["FINRAY_TEST_MYSQL_URL"]
    admin = create_admin_engine(url)
    with admin.begin() as conn:
        for t in ("keywords", "assets", "user_info", "seed_meta", "users"):
            conn.execute(text(f"DROP TABLE IF EXISTS {t}"))
    admin.dispose()
    seed_demo_users(url, 60, seed=3)
    settings = make_settings(FINRAY_USER_DB_URL=url)
    result = embed_users.run(settings, partitions=3)
    assert result.counts["embedded"] == 60 and result.counts["partitions"] == 3
    assert embed_users.run(settings, partitions=2).counts["embedded"] == 0
