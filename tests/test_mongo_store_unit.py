"""MongoStore without a server: the Atlas pipelines/index definitions, and the writes it issues.

Search semantics are *not* faked here (that is the contract suite's job against real Atlas);
the recording fake below only captures which bulk operations and index commands are sent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import ReplaceOne, UpdateOne

from finray.products.model import ProductType
from finray.stores.base import EmbedderMismatchError, IndexInfo, ProductFilters
from finray.stores.mongo import (
    TEXT_INDEX,
    VECTOR_INDEX,
    MongoStore,
    build_keyword_search_pipeline,
    build_vector_search_pipeline,
    num_candidates,
    search_index_definition,
    vector_index_definition,
)
from tests.test_store_contract import BY_ID, JAPAN_FUND, KB_STAR, PRODUCTS, VECTORS

FULL = ProductFilters(
    product_types=[ProductType.DEPOSIT, ProductType.SAVING],
    providers=["국민은행", "O'Reilly 은행"],
    term_months=12,
    max_risk_grade_riskiest=4,
    min_limit_krw=5_000_000,
)


# --- index definitions ----------------------------------------------------------------------
def test_vector_index_definition() -> None:
    fields = vector_index_definition(384)["fields"]
    assert fields[0] == {
        "type": "vector",
        "path": "embedding",
        "numDimensions": 384,
        "similarity": "cosine",
    }
    assert {f["path"] for f in fields[1:]} == {
        "product_type",
        "provider",
        "risk_level",
        "terms",
        "max_limit",
        "is_active",
    }
    assert all(f["type"] == "filter" for f in fields[1:])


def test_search_index_definition_uses_korean_analyzer_and_filter_types() -> None:
    mappings = search_index_definition()["mappings"]
    assert mappings["dynamic"] is False
    for text_field in ("rag_text", "name"):
        spec = mappings["fields"][text_field]
        assert spec["type"] == "string" and spec["analyzer"] == "lucene.korean"
        assert spec["multi"]["bigram"]["analyzer"] == "lucene.cjk"
    fields = mappings["fields"]
    assert fields["product_type"] == fields["provider"] == {"type": "token"}  # needed by `in`
    assert fields["risk_level"] == fields["terms"] == {"type": "number"}
    assert fields["is_active"] == {"type": "boolean"}


# --- $vectorSearch --------------------------------------------------------------------------
def test_vector_pipeline_translates_every_filter() -> None:
    pipeline = build_vector_search_pipeline([0.1, 0.2, 0.3], 5, FULL)
    stage = pipeline[0]["$vectorSearch"]
    assert stage["index"] == VECTOR_INDEX and stage["path"] == "embedding"
    assert stage["queryVector"] == [0.1, 0.2, 0.3] and stage["limit"] == 5
    assert stage["filter"] == {
        "$and": [
            {"product_type": {"$in": ["deposit", "saving"]}},
            {"provider": {"$in": ["국민은행", "O'Reilly 은행"]}},
            {"terms": {"$eq": 12}},
            {"risk_level": {"$gte": 4}},
            {"max_limit": {"$gte": 5_000_000}},
            {"is_active": {"$eq": True}},
        ]
    }
    assert pipeline[1] == {
        "$project": {"_id": 0, "product": 1, "score": {"$meta": "vectorSearchScore"}}
    }
    assert len(pipeline) == 2  # the embedding never leaves the server


@pytest.mark.parametrize(
    ("k", "expected"), [(1, 100), (5, 100), (10, 200), (64, 1280), (900, 10_000)]
)
def test_num_candidates(k: int, expected: int) -> None:
    assert num_candidates(k) == expected
    assert (
        build_vector_search_pipeline([1.0], k, ProductFilters())[0]["$vectorSearch"][
            "numCandidates"
        ]
        == expected
    )


def test_vector_pipeline_filter_defaults() -> None:
    default = build_vector_search_pipeline([1.0], 3, ProductFilters())[0]["$vectorSearch"]
    assert default["filter"] == {"$and": [{"is_active": {"$eq": True}}]}  # discontinued excluded
    everything = build_vector_search_pipeline(
        [1.0], 3, ProductFilters(include_discontinued=True, providers=[])
    )
    assert "filter" not in everything[0]["$vectorSearch"]  # empty list = no filter


# --- $search --------------------------------------------------------------------------------
def test_keyword_pipeline_translates_every_filter() -> None:
    pipeline = build_keyword_search_pipeline("청년도약 적금", 7, FULL)
    search = pipeline[0]["$search"]
    assert search["index"] == TEXT_INDEX
    must = search["compound"]["must"]
    assert len(must) == 1 and must[0]["text"]["query"] == "청년도약 적금"
    path = must[0]["text"]["path"]
    assert path[:2] == ["rag_text", "name"]
    assert {"value": "rag_text", "multi": "bigram"} in path and {
        "value": "name",
        "multi": "bigram",
    } in path
    assert search["compound"]["filter"] == [
        {"in": {"path": "product_type", "value": ["deposit", "saving"]}},
        {"in": {"path": "provider", "value": ["국민은행", "O'Reilly 은행"]}},
        {"equals": {"path": "terms", "value": 12}},
        {"range": {"path": "risk_level", "gte": 4}},
        {"range": {"path": "max_limit", "gte": 5_000_000}},
        {"equals": {"path": "is_active", "value": True}},
    ]
    assert pipeline[1] == {"$limit": 7}
    assert pipeline[2] == {"$project": {"_id": 0, "product": 1, "score": {"$meta": "searchScore"}}}


def test_keyword_pipeline_without_filters_has_no_filter_clause() -> None:
    compound = build_keyword_search_pipeline("예금", 3, ProductFilters(include_discontinued=True))[
        0
    ]["$search"]["compound"]
    assert set(compound) == {"must"}


# --- writes against a recording fake ---------------------------------------------------------
class RecordingCollection:
    """Records bulk writes and search-index commands; keeps replaced docs by id for find_one."""

    def __init__(self) -> None:
        self.bulk_calls: list[tuple[list[Any], bool]] = []
        self.docs: dict[str, dict[str, Any]] = {}
        self.search_indexes: dict[str, dict[str, Any]] = {}
        self.index_commands: list[tuple[str, str]] = []
        self.aggregate_result: list[dict[str, Any]] = []
        self.pipelines: list[list[dict[str, Any]]] = []

    def bulk_write(self, ops: list[Any], ordered: bool = True) -> Any:
        self.bulk_calls.append((list(ops), ordered))
        for op in ops:
            if isinstance(op, ReplaceOne):
                self.docs[op._filter["_id"]] = op._doc
        return type("Result", (), {"modified_count": 0})()

    def find_one(self, query: dict[str, Any], projection: Any = None) -> dict[str, Any] | None:
        return self.docs.get(query["_id"])

    def create_index(self, keys: Any, **kwargs: Any) -> str:
        return "ix"

    def list_search_indexes(self) -> list[dict[str, Any]]:
        return [{"name": n, **ix} for n, ix in self.search_indexes.items()]

    def create_search_index(self, model: Any) -> str:
        doc = model.document
        self.index_commands.append(("create", doc["name"]))
        self.search_indexes[doc["name"]] = {
            "type": doc["type"],
            "latestDefinition": doc["definition"],
        }
        return doc["name"]

    def update_search_index(self, name: str, definition: dict[str, Any]) -> None:
        self.index_commands.append(("update", name))
        self.search_indexes[name]["latestDefinition"] = definition

    def aggregate(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.pipelines.append(pipeline)
        return self.aggregate_result


class RecordingDatabase(dict):  # type: ignore[type-arg]
    def __missing__(self, name: str) -> RecordingCollection:
        self[name] = RecordingCollection()
        return self[name]

    def list_collection_names(self) -> list[str]:
        return list(self)

    def create_collection(self, name: str) -> RecordingCollection:
        return self[name]


class RecordingClient(dict):  # type: ignore[type-arg]
    def __missing__(self, name: str) -> RecordingDatabase:
        self[name] = RecordingDatabase()
        return self[name]


@pytest.fixture
def store() -> MongoStore:
    return MongoStore(None, "finray_unit", client=RecordingClient())  # type: ignore[arg-type]


def _replace_ops(coll: RecordingCollection) -> list[ReplaceOne]:
    ops = [op for call, _ in coll.bulk_calls for op in call]
    assert all(isinstance(op, ReplaceOne) for op in ops)
    return ops


def test_catalogue_upsert_is_one_unordered_bulk_of_replace_by_id(store: MongoStore) -> None:
    assert store.upsert_catalogue([*PRODUCTS, PRODUCTS[0]]) == len(PRODUCTS)  # duplicate collapses
    coll = store.db["catalogue"]
    assert len(coll.bulk_calls) == 1 and coll.bulk_calls[0][1] is False
    ops = _replace_ops(coll)
    assert [op._filter for op in ops] == [{"_id": p.product_id} for p in PRODUCTS]
    assert all(op._upsert is True for op in ops)
    doc = coll.docs[KB_STAR]
    assert (
        doc["product_id"] == KB_STAR
        and doc["source"] == "finlife:deposit"
        and doc["is_active"] is True
    )
    assert (
        doc["content_hash"] == BY_ID[KB_STAR].content_hash
        and doc["product"]["name"] == "KB Star 정기예금"
    )


def test_product_vector_upsert_writes_meta_products_and_indexes_once(store: MongoStore) -> None:
    info = IndexInfo(embedder="e5:test", dim=VECTORS.shape[1])
    assert store.upsert_product_vectors(PRODUCTS, VECTORS.tolist(), info) == len(PRODUCTS)
    meta = _replace_ops(store.db["index_meta"])
    assert [op._filter for op in meta] == [{"_id": "products"}]
    assert meta[0]._doc["embedder"] == "e5:test" and meta[0]._doc["dim"] == VECTORS.shape[1]

    ops = _replace_ops(store.db["products"])
    assert [op._filter["_id"] for op in ops] == [p.product_id for p in PRODUCTS]
    fund = store.db["products"].docs[JAPAN_FUND]
    assert fund["risk_grade"] == 2 and fund["risk_level"] == 2 and fund["terms"] == []
    assert store.db["products"].docs[KB_STAR]["risk_level"] == 7  # ungraded = safest
    assert len(fund["embedding"]) == VECTORS.shape[1] and all(
        isinstance(x, float) for x in fund["embedding"]
    )

    products = store.db["products"]
    assert sorted(products.index_commands) == [("create", TEXT_INDEX), ("create", VECTOR_INDEX)]
    assert products.search_indexes[VECTOR_INDEX]["type"] == "vectorSearch"
    assert products.search_indexes[TEXT_INDEX]["type"] == "search"
    store.upsert_product_vectors(PRODUCTS[:1], VECTORS[:1].tolist(), info)
    assert len(products.index_commands) == 2  # idempotent: definitions already match

    reordered = vector_index_definition(VECTORS.shape[1])
    reordered["fields"].reverse()  # Atlas may echo fields in another order: not a change
    products.search_indexes[VECTOR_INDEX]["latestDefinition"] = reordered
    store.ensure_search_indexes()
    assert len(products.index_commands) == 2

    products.search_indexes[VECTOR_INDEX]["latestDefinition"] = vector_index_definition(8)
    store.ensure_search_indexes()
    assert products.index_commands[-1] == ("update", VECTOR_INDEX)


def test_mismatched_embedder_writes_nothing(store: MongoStore) -> None:
    store.upsert_product_vectors(
        PRODUCTS[:2], VECTORS[:2].tolist(), IndexInfo(embedder="e5:test", dim=16)
    )
    before = len(store.db["products"].bulk_calls)
    with pytest.raises(
        EmbedderMismatchError, match=r"e5:test \(16-d\); this request used gemini:x \(16-d\)"
    ):
        store.upsert_product_vectors(
            PRODUCTS[:1], VECTORS[:1].tolist(), IndexInfo(embedder="gemini:x", dim=16)
        )
    assert len(store.db["products"].bulk_calls) == before


def test_vector_search_reports_cosine_similarity(store: MongoStore) -> None:
    store.upsert_product_vectors(
        PRODUCTS[:2], VECTORS[:2].tolist(), IndexInfo(embedder="e5:test", dim=16)
    )
    payload = store.db["products"].docs[KB_STAR]["product"]
    store.db["products"].aggregate_result = [
        {"product": payload, "score": 1.0},
        {"product": payload, "score": 0.5},
    ]
    hits = store.vector_search(VECTORS[0].tolist(), 2, ProductFilters(), "e5:test")
    assert [h.score for h in hits] == [1.0, 0.0]  # Atlas (1 + cos) / 2 mapped back to cos
    assert [h.rank for h in hits] == [1, 2] and hits[0].product == BY_ID[KB_STAR]
    assert store.db["products"].pipelines[-1] == build_vector_search_pipeline(
        VECTORS[0].tolist(), 2, ProductFilters()
    )


def test_discontinue_is_a_conditional_update_by_id(store: MongoStore) -> None:
    from datetime import date

    store.set_products_discontinued([KB_STAR, KB_STAR, JAPAN_FUND], date(2026, 8, 1))
    ((ops, ordered),) = store.db["products"].bulk_calls
    assert ordered is False and all(isinstance(op, UpdateOne) for op in ops)
    assert [op._filter for op in ops] == [
        {"_id": KB_STAR, "is_active": True},
        {"_id": JAPAN_FUND, "is_active": True},
    ]
    assert ops[0]._doc == {"$set": {"is_active": False, "product.discontinued_on": "2026-08-01"}}


def test_chat_log_is_replaced_by_log_id_with_a_utc_date(store: MongoStore) -> None:
    from finray.stores.base import ChatLog

    log = ChatLog(
        log_id="l1", user_id="u1", question="q", answer="a", created_at=datetime(2026, 8, 1, 9, 0)
    )
    store.add_chat_log(log)
    (op,) = _replace_ops(store.db["chat_logs"])
    assert op._filter == {"_id": "l1"} and op._upsert is True
    assert op._doc["created_at"] == datetime(2026, 8, 1, 9, 0, tzinfo=UTC)  # naive taken as UTC
