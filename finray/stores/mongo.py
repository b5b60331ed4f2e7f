"""The production store: MongoDB Atlas with Atlas Vector Search and Atlas Search.

Collections mirror the LanceDB tables: ``catalogue``, ``products`` (flat filter fields,
``rag_text``/``name``, ``embedding`` and the lossless ``product`` payload), ``user_vectors``,
``chat_logs``, ``feedback``, ``source_status`` and ``index_meta``. Every write is an upsert by
``_id`` (``ReplaceOne(..., upsert=True)`` in one ``bulk_write``) so jobs can be re-run.

Search indexes are defined in code (:func:`vector_index_definition`,
:func:`search_index_definition`) and created or updated by :meth:`MongoStore.ensure_search_indexes`,
so an Atlas cluster never depends on someone clicking through the UI. The aggregation pipelines
are pure functions too, which lets ``tests/test_mongo_store_unit.py`` check them without a server.

Atlas syntax followed (mongodb.com/docs/atlas): ``$vectorSearch`` stage (index, path,
queryVector, numCandidates <= 10000, limit, MQL ``filter`` on fields indexed as ``type: filter``),
``compound`` with ``must``/``filter`` clauses, the ``in``/``equals``/``range`` operators
(strings need ``token`` mappings), ``lucene.korean`` and ``multi`` alternate analyzers.
Search indexes are eventually consistent: a write is searchable a moment later, not at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pymongo import MongoClient, ReplaceOne, UpdateOne
from pymongo.errors import OperationFailure
from pymongo.operations import SearchIndexModel

from finray.products.model import Product
from finray.stores import records
from finray.stores.base import (
    ChatLog,
    Feedback,
    IndexInfo,
    ProductFilters,
    ProductHit,
    SourceStatus,
    Store,
    StoreError,
    UserVector,
)

VECTOR_INDEX = "products_vector"
TEXT_INDEX = "products_text"
_BIGRAM = "bigram"  # alternate analyzer name: lucene.cjk bigrams, same recall as LanceDB n-grams
_PRODUCTS_META, _USERS_META = "products", "user_vectors"
_HIT_PROJECTION = {"_id": 0, "product": 1}


# --- pure builders (unit-tested without a server) -------------------------------------------
def vector_index_definition(dim: int) -> dict[str, Any]:
    """Atlas Vector Search index on ``products.embedding`` plus the pre-filter fields."""
    filters = ["product_type", "provider", "risk_level", "terms", "max_limit", "is_active"]
    return {
        "fields": [
            {"type": "vector", "path": "embedding", "numDimensions": dim, "similarity": "cosine"},
            *({"type": "filter", "path": f} for f in filters),
        ]
    }


def search_index_definition() -> dict[str, Any]:
    """Atlas Search index: Korean analyzer on text (+ CJK bigrams for compounds), filter fields.

    ``lucene.korean`` (Nori) splits words morphologically, which ranks well for natural
    questions but misses fragments of compounds it does not know; the ``bigram`` multi field
    catches those, matching what the LanceDB backend's 2-gram index finds.
    """
    text = {
        "type": "string",
        "analyzer": "lucene.korean",
        "searchAnalyzer": "lucene.korean",
        "multi": {_BIGRAM: {"type": "string", "analyzer": "lucene.cjk"}},
    }
    return {
        "mappings": {
            "dynamic": False,
            "fields": {
                "rag_text": text,
                "name": text,
                "product_type": {"type": "token"},
                "provider": {"type": "token"},
                "risk_level": {"type": "number"},
                "terms": {"type": "number"},
                "max_limit": {"type": "number"},
                "is_active": {"type": "boolean"},
            },
        }
    }


def vector_filter(filters: ProductFilters) -> dict[str, Any]:
    """MQL pre-filter for ``$vectorSearch`` (only operators Atlas documents for it)."""
    clauses: list[dict[str, Any]] = []
    if filters.product_types:
        clauses.append({"product_type": {"$in": [t.value for t in filters.product_types]}})
    if filters.providers:
        clauses.append({"provider": {"$in": list(filters.providers)}})
    if filters.term_months is not None:
        clauses.append({"terms": {"$eq": int(filters.term_months)}})  # matches any array element
    if filters.max_risk_grade_riskiest is not None:
        clauses.append({"risk_level": {"$gte": int(filters.max_risk_grade_riskiest)}})
    if filters.min_limit_krw is not None:
        clauses.append({"max_limit": {"$gte": int(filters.min_limit_krw)}})
    if not filters.include_discontinued:
        clauses.append({"is_active": {"$eq": True}})
    return {"$and": clauses} if clauses else {}


def search_filter(filters: ProductFilters) -> list[dict[str, Any]]:
    """The same filters as Atlas Search ``compound.filter`` clauses (they do not affect score)."""
    clauses: list[dict[str, Any]] = []
    if filters.product_types:
        clauses.append(
            {"in": {"path": "product_type", "value": [t.value for t in filters.product_types]}}
        )
    if filters.providers:
        clauses.append({"in": {"path": "provider", "value": list(filters.providers)}})
    if filters.term_months is not None:
        clauses.append({"equals": {"path": "terms", "value": int(filters.term_months)}})
    if filters.max_risk_grade_riskiest is not None:
        clauses.append(
            {"range": {"path": "risk_level", "gte": int(filters.max_risk_grade_riskiest)}}
        )
    if filters.min_limit_krw is not None:
        clauses.append({"range": {"path": "max_limit", "gte": int(filters.min_limit_krw)}})
    if not filters.include_discontinued:
        clauses.append({"equals": {"path": "is_active", "value": True}})
    return clauses


def num_candidates(k: int) -> int:
    """Atlas recommends ~20x the limit for ANN recall; it caps numCandidates at 10000."""
    return min(10_000, max(100, 20 * k))


def build_vector_search_pipeline(
    vector: Sequence[float], k: int, filters: ProductFilters
) -> list[dict[str, Any]]:
    """``$vectorSearch`` (ANN, pre-filtered) then a projection that leaves the embedding behind."""
    stage: dict[str, Any] = {
        "index": VECTOR_INDEX,
        "path": "embedding",
        "queryVector": [float(x) for x in vector],
        "numCandidates": num_candidates(k),
        "limit": k,
    }
    mql = vector_filter(filters)
    if mql:
        stage["filter"] = mql
    return [
        {"$vectorSearch": stage},
        {"$project": {**_HIT_PROJECTION, "score": {"$meta": "vectorSearchScore"}}},
    ]


def build_keyword_search_pipeline(
    text: str, k: int, filters: ProductFilters
) -> list[dict[str, Any]]:
    """``$search`` text on both analyzers of ``rag_text``/``name``; filters never change scores."""
    path: list[Any] = [
        "rag_text",
        "name",
        *({"value": f, "multi": _BIGRAM} for f in ("rag_text", "name")),
    ]
    compound: dict[str, Any] = {"must": [{"text": {"query": text, "path": path}}]}
    clauses = search_filter(filters)
    if clauses:
        compound["filter"] = clauses
    return [
        {"$search": {"index": TEXT_INDEX, "compound": compound}},
        {"$limit": k},
        {"$project": {**_HIT_PROJECTION, "score": {"$meta": "searchScore"}}},
    ]


def _contains(actual: Any, wanted: Any) -> bool:
    """True if ``wanted`` is a sub-document of ``actual`` (Atlas adds defaults to definitions)."""
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and _contains(actual[k], v) for k, v in wanted.items()
        )
    if isinstance(wanted, list):  # order-insensitive: Atlas may list fields in its own order
        same_len = isinstance(actual, list) and len(actual) == len(wanted)
        return same_len and all(any(_contains(a, w) for a in actual) for w in wanted)
    return actual == wanted


def _aware(doc: dict[str, Any], field: str) -> dict[str, Any]:
    """``doc`` with ``field`` as an aware UTC datetime (clients without tz_aware return naive)."""
    return {**doc, field: records.to_utc(doc[field])}


class MongoStore(Store):
    """:class:`Store` on a MongoDB database; search needs Atlas (or an Atlas local deployment)."""

    def __init__(self, uri: str | None, db_name: str, client: MongoClient | None = None) -> None:
        if client is None and not uri:
            raise StoreError("MONGODB_URI: required for the mongo store")
        self._owns_client = client is None
        self._client = (
            MongoClient(uri, tz_aware=True, appname="finray") if client is None else client
        )
        self.db = self._client[db_name]
        self._plain_indexes_ready = False

    # --- plumbing --------------------------------------------------------------------------
    def _replace(self, collection: str, docs: Sequence[dict[str, Any]]) -> int:
        """Upsert whole documents by ``_id`` in one round trip (last one wins inside a batch)."""
        by_id = {d["_id"]: d for d in docs}
        if by_id:
            ops = [ReplaceOne({"_id": i}, d, upsert=True) for i, d in by_id.items()]
            self.db[collection].bulk_write(ops, ordered=False)
        return len(by_id)

    def _ensure_plain_indexes(self) -> None:
        """B-tree indexes for the list/paginate queries; created once per process, idempotent."""
        if not self._plain_indexes_ready:
            self.db["chat_logs"].create_index([("user_id", 1), ("created_at", -1)])
            self.db["chat_logs"].create_index([("created_at", -1)])
            self.db["feedback"].create_index([("user_id", 1), ("created_at", -1)])
            self.db["catalogue"].create_index([("source", 1)])
            self._plain_indexes_ready = True

    def _index_info(self, name: str) -> IndexInfo | None:
        doc = self.db["index_meta"].find_one({"_id": name})
        return IndexInfo(embedder=doc["embedder"], dim=doc["dim"]) if doc else None

    def _claim_index(self, name: str, info: IndexInfo, what: str, job: str, write: bool) -> None:
        """Raise if another embedder built the index; record ``info`` when the first rows land."""
        built = self._index_info(name)
        records.check_index(built, info.embedder, info.dim, what, job)
        if built is None and write:
            doc = {"_id": name, **info.model_dump(), "updated_at": datetime.now(UTC)}
            self._replace("index_meta", [doc])

    # --- search index management -----------------------------------------------------------
    def ensure_search_indexes(self) -> None:
        """Create or update both products search indexes from code; safe to call repeatedly."""
        wanted = [(TEXT_INDEX, "search", search_index_definition())]
        if (info := self.product_index_info()) is not None:
            wanted.append((VECTOR_INDEX, "vectorSearch", vector_index_definition(info.dim)))
        products = self.db["products"]
        try:
            if "products" not in self.db.list_collection_names():
                self.db.create_collection("products")  # search indexes need the collection
            existing = {ix["name"]: ix for ix in products.list_search_indexes()}
            for name, kind, definition in wanted:
                current = existing.get(name)
                if current is None:
                    model = SearchIndexModel(definition=definition, name=name, type=kind)
                    products.create_search_index(model)
                elif not _contains(current.get("latestDefinition"), definition):
                    products.update_search_index(name, definition)
        except OperationFailure as err:
            raise StoreError(f"MongoDB search indexes need Atlas (or Atlas local): {err}") from err

    def wait_for_search_indexes(self, timeout_s: float = 120.0) -> bool:
        """Poll until every products search index is queryable; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            indexes = list(self.db["products"].list_search_indexes())
            if indexes and all(
                ix.get("queryable") and ix.get("status") == "READY" for ix in indexes
            ):
                return True
            time.sleep(2.0)
        return False

    # --- catalogue -------------------------------------------------------------------------
    def upsert_catalogue(self, products: Sequence[Product]) -> int:
        self._ensure_plain_indexes()
        docs = [
            {
                "_id": p.product_id,
                **records.catalogue_fields(p),
                "product": records.product_payload(p),
            }
            for p in products
        ]
        return self._replace("catalogue", docs)

    def catalogue(
        self, source: str | None = None, include_discontinued: bool = True
    ) -> list[Product]:
        query: dict[str, Any] = {} if source is None else {"source": source}
        if not include_discontinued:
            query["is_active"] = True
        cursor = self.db["catalogue"].find(query, {"product": 1}).sort("_id", 1)
        return [records.product_from_payload(d["product"]) for d in cursor]

    # --- searchable products ---------------------------------------------------------------
    def upsert_product_vectors(
        self, products: Sequence[Product], vectors: Sequence[Sequence[float]], info: IndexInfo
    ) -> int:
        records.check_vectors(vectors, len(products), info.dim)
        self._claim_index(
            _PRODUCTS_META, info, "product index was", "embed_products", bool(products)
        )
        docs = [
            {
                "_id": p.product_id,
                **records.search_fields(p),
                "product": records.product_payload(p),
                "embedding": [float(x) for x in v],
                "embedder": info.embedder,
            }
            for p, v in zip(products, vectors, strict=True)
        ]
        if count := self._replace("products", docs):
            self.ensure_search_indexes()
        return count

    def product_vector_hashes(self) -> dict[str, str]:
        return {
            d["_id"]: d["content_hash"] for d in self.db["products"].find({}, {"content_hash": 1})
        }

    def set_products_discontinued(self, product_ids: Sequence[str], on: date) -> int:
        """Only still-active products change, so the first discontinuation date is kept."""
        if not product_ids:
            return 0
        change = {"$set": {"is_active": False, "product.discontinued_on": on.isoformat()}}
        ops = [UpdateOne({"_id": i, "is_active": True}, change) for i in dict.fromkeys(product_ids)]
        return self.db["products"].bulk_write(ops, ordered=False).modified_count

    def get_products(self, product_ids: Sequence[str]) -> list[Product]:
        if not product_ids:
            return []
        found = self.db["products"].find({"_id": {"$in": list(set(product_ids))}}, {"product": 1})
        by_id = {d["_id"]: d["product"] for d in found}
        return [records.product_from_payload(by_id[i]) for i in product_ids if i in by_id]

    def vector_search(
        self, vector: Sequence[float], k: int, filters: ProductFilters, embedder: str
    ) -> list[ProductHit]:
        """Cosine similarity in [-1, 1] like LanceDB: Atlas reports (1 + cos) / 2, undone here."""
        info = self.product_index_info()
        records.check_index(info, embedder, len(vector), "product index was", "embed_products")
        if info is None or k <= 0:
            return []
        docs = self.db["products"].aggregate(build_vector_search_pipeline(vector, k, filters))
        return records.hits((d["product"], 2.0 * d["score"] - 1.0) for d in docs)

    def keyword_search(self, text: str, k: int, filters: ProductFilters) -> list[ProductHit]:
        """Atlas Search BM25 score; an empty store answers [] without touching the index."""
        if k <= 0 or not text.strip() or self.product_index_info() is None:
            return []
        docs = self.db["products"].aggregate(build_keyword_search_pipeline(text, k, filters))
        return records.hits((d["product"], float(d["score"])) for d in docs)

    def product_index_info(self) -> IndexInfo | None:
        return self._index_info(_PRODUCTS_META)

    def product_vector(self, product_id: str) -> list[float] | None:
        doc = self.db["products"].find_one({"_id": product_id}, {"embedding": 1})
        return [float(x) for x in doc["embedding"]] if doc else None

    def product_vectors(self, product_ids: Sequence[str]) -> dict[str, list[float]]:
        ids = list(dict.fromkeys(product_ids))
        out: dict[str, list[float]] = {}
        for i in range(0, len(ids), 1000):
            for doc in self.db["products"].find({"_id": {"$in": ids[i : i + 1000]}}, {"embedding": 1}):
                out[doc["_id"]] = [float(x) for x in doc["embedding"]]
        return out

    def reset_product_vectors(self) -> None:
        """Empties the collection but keeps it, so its search index definitions survive."""
        self.db["products"].delete_many({})
        self.db["index_meta"].delete_one({"_id": _PRODUCTS_META})

    # --- users -----------------------------------------------------------------------------
    def upsert_user_vectors(self, users: Sequence[UserVector], info: IndexInfo) -> int:
        records.check_users(users, info)
        self._claim_index(_USERS_META, info, "user vectors were", "embed_users", bool(users))
        docs = [
            {
                **u.model_dump(mode="json"),
                "_id": u.user_id,
                "updated_at": records.to_utc(u.updated_at),
            }
            for u in users
        ]
        return self._replace("user_vectors", docs)

    def get_user_vector(self, user_id: str) -> UserVector | None:
        doc = self.db["user_vectors"].find_one({"_id": user_id})
        return UserVector.model_validate(_aware(doc, "updated_at")) if doc else None

    def user_persona_hashes(self) -> dict[str, str]:
        docs = self.db["user_vectors"].find({}, {"persona_hash": 1})
        return {d["_id"]: d["persona_hash"] for d in docs}

    def reset_user_vectors(self) -> None:
        self.db["user_vectors"].delete_many({})
        self.db["index_meta"].delete_one({"_id": _USERS_META})

    # --- chat logs and feedback ------------------------------------------------------------
    def add_chat_log(self, log: ChatLog) -> None:
        """Stored with a BSON date (millisecond precision) so range and sort use an index."""
        self._ensure_plain_indexes()
        created = records.to_utc(log.created_at)
        self._replace(
            "chat_logs", [{**log.model_dump(mode="json"), "_id": log.log_id, "created_at": created}]
        )

    def chat_logs(
        self,
        user_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[ChatLog], int]:
        query: dict[str, Any] = {} if user_id is None else {"user_id": user_id}
        window: dict[str, datetime] = {}
        if start is not None:
            window["$gte"] = records.to_utc(start)
        if end is not None:
            window["$lt"] = records.to_utc(end)
        if window:
            query["created_at"] = window
        logs = self.db["chat_logs"]
        total = logs.count_documents(query)
        if limit <= 0:
            return [], total
        cursor = (
            logs.find(query)
            .sort([("created_at", -1), ("_id", -1)])
            .skip(max(offset, 0))
            .limit(limit)
        )
        return [ChatLog.model_validate(_aware(d, "created_at")) for d in cursor], total

    def add_feedback(self, feedback: Feedback) -> None:
        self._ensure_plain_indexes()
        doc = {**feedback.model_dump(mode="json"), "_id": feedback.feedback_id}
        self._replace("feedback", [{**doc, "created_at": records.to_utc(feedback.created_at)}])

    def feedback(self, user_id: str | None = None) -> list[Feedback]:
        query: dict[str, Any] = {} if user_id is None else {"user_id": user_id}
        cursor = self.db["feedback"].find(query).sort([("created_at", -1), ("_id", -1)])
        return [Feedback.model_validate(_aware(d, "created_at")) for d in cursor]

    # --- source status ---------------------------------------------------------------------
    def put_source_status(self, status: SourceStatus) -> None:
        self._replace("source_status", [{**status.model_dump(mode="json"), "_id": status.source}])

    def source_statuses(self) -> list[SourceStatus]:
        return [
            SourceStatus.model_validate(d) for d in self.db["source_status"].find().sort("_id", 1)
        ]

    # --- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        if self._owns_client:
            self._client.close()
