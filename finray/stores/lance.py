"""The embedded store: LanceDB tables in one directory (the default backend, no server).

Layout (one Lance table each): ``catalogue`` (products as collected, no vectors), the products
table (searchable: flat filter columns, ``rag_text``/``name`` with n-gram full-text indexes and
a fixed-size float32 ``vector``), the user vectors table, ``chat_logs``, ``feedback``,
``source_status`` and ``index_meta``, which records for each vector table the embedder, the
dimension and the table's actual name (``products_<build id>``, ``user_vectors_<build id>``).

Every table keeps the full record as JSON in ``doc`` so reads are lossless; the other columns
exist only for filtering and ordering (see :mod:`finray.stores.records`).

Why these choices:

* Writes are ``merge_insert`` upserts keyed by id, so re-running a job is idempotent.
* Korean has no spaces inside compounds ("청년도약계좌", "주택담보대출"), so whitespace tokens
  would miss substrings; a 2-gram tokenizer finds any compound fragment of two or more syllables.
* Vector search is exact (flat) cosine: the catalogue is a few thousand rows, where an ANN index
  would cost recall and training time for no measurable latency win.
* Lance readers are safe across processes; ``read_consistency_interval=0`` makes every read
  see the latest committed version, so Ray actors notice a finished embedding job without reopening.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS
from lancedb.query import MultiMatchQuery
from lancedb.table import Table

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

log = logging.getLogger(__name__)

_S, _I32, _I64 = pa.string(), pa.int32(), pa.int64()
_CATALOGUE = pa.schema(
    {"product_id": _S, "product_type": _S, "source": _S, "provider": _S, "is_active": pa.bool_(),
     "content_hash": _S, "doc": _S}
)  # fmt: skip
_USERS = pa.schema(
    {"user_id": _S, "persona_hash": _S, "embedder": _S, "vector": pa.list_(pa.float32()), "doc": _S}
)
_LOGS = pa.schema({"log_id": _S, "user_id": _S, "created_us": _I64, "doc": _S})
_FEEDBACK = pa.schema({"feedback_id": _S, "user_id": _S, "created_us": _I64, "doc": _S})
_STATUS = pa.schema({"source": _S, "doc": _S})
_META = pa.schema({"name": _S, "embedder": _S, "dim": _I32, "table": _S, "updated_us": _I64})


def _products_schema(dim: int) -> pa.Schema:
    extra = {"name": _S, "rag_text": _S, "risk_grade": _I32, "risk_level": _I32,
             "terms": pa.list_(_I32), "best_max_rate": pa.float64(), "max_limit": _I64,
             "vector": pa.list_(pa.float32(), dim)}  # fmt: skip
    return pa.schema([*_CATALOGUE, *(pa.field(k, t) for k, t in extra.items())])


# Full-text config: character 2-grams, no English stemming/stop words (they would mangle Korean).
_FTS_COLUMNS = ("rag_text", "name")
_FTS_CONFIG = FTS(
    base_tokenizer="ngram",
    ngram_min_length=2,
    ngram_max_length=2,
    lower_case=True,
    stem=False,
    remove_stop_words=False,
    ascii_folding=True,
)
_PRODUCTS_META, _USERS_META = "products", "user_vectors"
_OPTIMIZE_AFTER_ROWS = 128  # brute-forcing this many unindexed rows costs a few ms per query


def _lit(value: str) -> str:
    """A SQL string literal; doubling quotes is the only escape DataFusion string literals need."""
    return "'" + value.replace("'", "''") + "'"


def _in(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(_lit(v) for v in values)})"


def _and(clauses: Sequence[str]) -> str | None:
    return " AND ".join(f"({c})" for c in clauses) if clauses else None


def filter_sql(filters: ProductFilters) -> str | None:
    """The SQL ``WHERE`` for ``filters`` (None when nothing filters); empty lists mean "any"."""
    clauses: list[str] = []
    if filters.product_types:
        clauses.append(_in("product_type", (t.value for t in filters.product_types)))
    if filters.providers:
        clauses.append(_in("provider", filters.providers))
    if filters.term_months is not None:
        clauses.append(f"array_has(terms, {int(filters.term_months)})")
    if filters.max_risk_grade_riskiest is not None:
        clauses.append(f"risk_level >= {int(filters.max_risk_grade_riskiest)}")
    if filters.min_limit_krw is not None:
        clauses.append(f"max_limit >= {int(filters.min_limit_krw)}")
    if not filters.include_discontinued:
        clauses.append("is_active = true")
    return _and(clauses)


def _micros(dt: datetime) -> int:
    return int(records.to_utc(dt).timestamp() * 1_000_000)


def _merge(table: Table, key: str, data: pa.Table) -> None:
    table.merge_insert(key).when_matched_update_all().when_not_matched_insert_all().execute(data)


#: Appends to a log table between two compactions. Every Lance write adds a version and a data
#: fragment; without compaction a busy service's chat-log table reaches thousands of fragments
#: and every read (and merge) of it slows down with their number.
COMPACT_EVERY = 64
#: Versions older than this are pruned when compacting. Readers in other processes always open
#: the latest version for each query, and no query here runs for minutes.
KEEP_VERSIONS_FOR = timedelta(minutes=10)
#: How long a serving-path reader reuses an index's table name (see ``_serving_rows``).
META_MAX_AGE_S = 5.0


class LanceStore(Store):
    """:class:`Store` on a LanceDB directory; cheap to open, one instance per process/actor."""

    def __init__(self, path: Path, read_consistency_interval: timedelta | None = timedelta(0)):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._db = lancedb.connect(
            str(self.path), read_consistency_interval=read_consistency_interval
        )
        self._tables: dict[str, Table] = {}
        self._appends: dict[str, int] = {}  # appends per table since this instance compacted it
        self._serving_tables: dict[str, tuple[float, str | None]] = {}  # index → (looked up at, table)

    # --- table plumbing ------------------------------------------------------------------
    def _open(self, name: str | None) -> Table | None:
        if name is None:
            return None
        if name not in self._tables:
            try:
                self._tables[name] = self._db.open_table(name)
            except ValueError:  # not created yet (by us or by another process)
                return None
        return self._tables[name]

    def _create(self, name: str, schema: pa.Schema) -> Table:
        table = self._open(name)
        if table is None:
            table = self._tables[name] = self._db.create_table(name, schema=schema, exist_ok=True)
        return table

    def _drop(self, name: str) -> None:
        self._tables.pop(name, None)
        self._db.drop_table(name, ignore_missing=True)

    def _upsert(self, name: str, schema: pa.Schema, key: str, rows: list[dict[str, Any]]) -> int:
        """Insert or replace by ``key``; in a batch the last row wins (merge needs unique keys)."""
        unique = list({r[key]: r for r in rows}.values())
        if unique:
            _merge(self._create(name, schema), key, pa.Table.from_pylist(unique, schema=schema))
        return len(unique)

    def _append(self, name: str, schema: pa.Schema, key: str, rows: list[dict[str, Any]]) -> None:
        """Append-only tables (chat logs, feedback: immutable rows with unique ids): insert the rows
        whose ``key`` is new — so a retried write adds nothing twice — and compact the table
        every :data:`COMPACT_EVERY` writes."""
        unique = list({r[key]: r for r in rows}.values())
        if not unique:
            return
        table = self._create(name, schema)
        table.merge_insert(key).when_not_matched_insert_all().execute(pa.Table.from_pylist(unique, schema=schema))
        self._appends[name] = self._appends.get(name, 0) + 1
        if self._appends[name] >= COMPACT_EVERY:
            self._appends[name] = 0
            self._compact(table)

    @staticmethod
    def _compact(table: Table) -> None:
        try:
            table.optimize(cleanup_older_than=KEEP_VERSIONS_FOR)
        except Exception as err:  # noqa: BLE001 - a concurrent writer can win; compact next time
            log.warning("compacting %s skipped: %s", table.name, err)

    def compact(self) -> None:
        """Merge small data files and prune old versions of every table (the jobs call this)."""
        page = self._db.list_tables(limit=10_000)  # one table per kind of record: a handful
        for name in page.tables:
            table = self._open(name)
            if table is not None:
                self._compact(table)

    def _rows(
        self, name: str | None, where: str | None, columns: list[str]
    ) -> list[dict[str, Any]]:
        table = self._open(name)
        if table is None:
            return []
        query = table.search()
        if where:
            query = query.where(where)
        return query.select(columns).limit(None).to_arrow().to_pylist()

    def _docs(self, name: str | None, key: str, where: str | None) -> dict[str, str]:
        return {r[key]: r["doc"] for r in self._rows(name, where, [key, "doc"])}

    # --- index metadata --------------------------------------------------------------------
    def _meta(self, name: str) -> dict[str, Any] | None:
        rows = self._rows("index_meta", f"name = {_lit(name)}", ["embedder", "dim", "table"])
        return rows[0] if rows else None

    def _table_name(self, name: str) -> str | None:
        """The vector table an index lives in; readers look it up on every call (see below)."""
        meta = self._meta(name)
        return meta["table"] if meta else None

    def _serving_rows(self, index: str, where: str, columns: list[str]) -> list[dict[str, Any]]:
        """Point reads on the serving path (one user's vector per request): the index's table name
        is reused for :data:`META_MAX_AGE_S` instead of costing a second query per read. A reset
        elsewhere (a rebuild with another embedder) drops the old table: the read then fails or
        finds nothing, and is retried once with a fresh lookup."""
        now = time.monotonic()
        cached = self._serving_tables.get(index)
        if cached is None or now - cached[0] > META_MAX_AGE_S:
            cached = self._serving_tables[index] = (now, self._table_name(index))
        try:
            rows = self._rows(cached[1], where, columns)
        except Exception:  # noqa: BLE001 - a dropped table: look it up again below
            rows = []
        if rows or cached[0] == now:
            return rows
        self._serving_tables.pop(index, None)
        if cached[1] is not None:
            self._tables.pop(cached[1], None)
        return self._rows(self._table_name(index), where, columns)

    def _claim_index(
        self, name: str, info: IndexInfo, what: str, job: str, write: bool
    ) -> str | None:
        """Raise if another embedder built the index; record ``info`` when the first rows land.

        Each build gets a fresh table name recorded in ``index_meta``. A reset (new embedder)
        therefore never recreates a table under a name that other processes still hold open:
        they switch to the new table on their next call instead of reading a dropped one.
        """
        meta = self._meta(name)
        built = IndexInfo(embedder=meta["embedder"], dim=meta["dim"]) if meta else None
        records.check_index(built, info.embedder, info.dim, what, job)
        if meta is not None or not write:
            return meta["table"] if meta else None
        table = f"{name}_{uuid.uuid4().hex[:8]}"
        now = _micros(datetime.now(UTC))
        self._upsert(
            "index_meta",
            _META,
            "name",
            [{**info.model_dump(), "name": name, "table": table, "updated_us": now}],
        )
        return table

    def _reset_index(self, name: str) -> None:
        """Forget the index first (readers stop using it), then drop its table."""
        table = self._table_name(name)
        meta = self._open("index_meta")
        if meta is not None:
            meta.delete(f"name = {_lit(name)}")
        if table is not None:
            self._drop(table)

    # --- catalogue -------------------------------------------------------------------------
    def upsert_catalogue(self, products: Sequence[Product]) -> int:
        rows = [{**records.catalogue_fields(p), "doc": records.product_json(p)} for p in products]
        return self._upsert("catalogue", _CATALOGUE, "product_id", rows)

    def catalogue(
        self, source: str | None = None, include_discontinued: bool = True
    ) -> list[Product]:
        clauses = [f"source = {_lit(source)}"] if source is not None else []
        if not include_discontinued:
            clauses.append("is_active = true")
        docs = self._docs("catalogue", "product_id", _and(clauses))
        return [records.product_from_payload(docs[i]) for i in sorted(docs)]

    # --- searchable products ---------------------------------------------------------------
    def upsert_product_vectors(
        self, products: Sequence[Product], vectors: Sequence[Sequence[float]], info: IndexInfo
    ) -> int:
        records.check_vectors(vectors, len(products), info.dim)
        name = self._claim_index(
            _PRODUCTS_META, info, "product index was", "embed_products", bool(products)
        )
        if not products or name is None:
            return 0
        table = self._open(name)
        if table is not None and (held := table.schema.field("vector").type.list_size) != info.dim:
            raise StoreError(f"products table holds {held}-d vectors, not {info.dim}-d")
        rows = [
            {
                **records.search_fields(p),
                "doc": records.product_json(p),
                "vector": np.asarray(v, np.float32),
            }
            for p, v in zip(products, vectors, strict=True)
        ]
        count = self._upsert(name, _products_schema(info.dim), "product_id", rows)
        self._refresh_text_index(name)
        return count

    def _refresh_text_index(self, name: str | None) -> None:
        """Create the n-gram indexes once; afterwards fold new rows in when enough have piled up.

        Rows not yet indexed are still found (searched by brute force), so folding them in is
        only about speed: ``optimize`` (compaction + incremental index update, atomic for
        concurrent readers, unlike a ``replace=True`` rebuild) runs once
        :data:`_OPTIMIZE_AFTER_ROWS` rows wait, not after every small batch of a job, and a
        failed optimize is logged rather than raised.
        """
        table = self._open(name)
        if table is None:
            return
        indexes = {i.name: i for i in table.list_indices()}
        missing = [c for c in _FTS_COLUMNS if f"{c}_fts" not in indexes]
        for column in missing:
            table.create_index(column, config=_FTS_CONFIG, replace=True, name=f"{column}_fts")
        waiting = max((i.num_unindexed_rows or 0 for i in indexes.values()), default=0)
        if not missing and waiting >= _OPTIMIZE_AFTER_ROWS:
            try:
                table.optimize()
            except Exception as err:  # noqa: BLE001 - a concurrent writer may win the commit
                log.warning("lance: optimize of %s skipped: %s", name, err)

    def product_vector_hashes(self) -> dict[str, str]:
        rows = self._rows(self._table_name(_PRODUCTS_META), None, ["product_id", "content_hash"])
        return {r["product_id"]: r["content_hash"] for r in rows}

    def set_products_discontinued(self, product_ids: Sequence[str], on: date) -> int:
        """Rewrite only still-active rows, so the first discontinuation date is kept."""
        name = self._table_name(_PRODUCTS_META)
        table = self._open(name)
        if table is None or not product_ids:
            return 0
        where = f"{_in('product_id', set(product_ids))} AND is_active = true"
        data = table.search().where(where).limit(None).to_arrow()
        if data.num_rows == 0:
            return 0
        docs = [
            records.product_json(records.mark_discontinued(records.product_from_payload(d), on))
            for d in data["doc"].to_pylist()
        ]
        for column, values in (
            ("doc", pa.array(docs, _S)),
            ("is_active", pa.array([False] * len(docs))),
        ):
            data = data.set_column(data.schema.get_field_index(column), column, values)
        _merge(table, "product_id", data)
        self._refresh_text_index(name)
        return data.num_rows

    def get_products(self, product_ids: Sequence[str]) -> list[Product]:
        if not product_ids:
            return []
        where = _in("product_id", set(product_ids))
        docs = self._docs(self._table_name(_PRODUCTS_META), "product_id", where)
        return [records.product_from_payload(docs[i]) for i in product_ids if i in docs]

    def vector_search(
        self, vector: Sequence[float], k: int, filters: ProductFilters, embedder: str
    ) -> list[ProductHit]:
        """Exact cosine search; the score is the similarity ``1 - cosine distance``."""
        meta = self._meta(_PRODUCTS_META)
        built = IndexInfo(embedder=meta["embedder"], dim=meta["dim"]) if meta else None
        records.check_index(built, embedder, len(vector), "product index was", "embed_products")
        table = self._open(meta["table"]) if meta else None
        if table is None or k <= 0:
            return []
        query = table.search(np.asarray(vector, np.float32), vector_column_name="vector")
        query = query.distance_type("cosine")
        if where := filter_sql(filters):
            query = query.where(where, prefilter=True)
        rows = query.select(["doc", "_distance"]).limit(k).to_list()
        return records.hits((r["doc"], 1.0 - float(r["_distance"])) for r in rows)

    def keyword_search(self, text: str, k: int, filters: ProductFilters) -> list[ProductHit]:
        """BM25 over 2-grams of ``rag_text`` and ``name``; any shared 2-gram matches (OR)."""
        if k <= 0 or not text.strip():
            return []
        table = self._open(self._table_name(_PRODUCTS_META))
        if table is None:
            return []
        query = table.search(MultiMatchQuery(text, list(_FTS_COLUMNS)), query_type="fts")
        if where := filter_sql(filters):
            query = query.where(where, prefilter=True)
        rows = query.select(["doc", "_score"]).limit(k).to_list()
        return records.hits((r["doc"], float(r["_score"])) for r in rows)

    def product_index_info(self) -> IndexInfo | None:
        meta = self._meta(_PRODUCTS_META)
        return IndexInfo(embedder=meta["embedder"], dim=meta["dim"]) if meta else None

    def product_vector(self, product_id: str) -> list[float] | None:
        where = f"product_id = {_lit(product_id)}"
        rows = self._rows(self._table_name(_PRODUCTS_META), where, ["vector"])
        return [float(x) for x in rows[0]["vector"]] if rows else None

    def product_vectors(self, product_ids: Sequence[str]) -> dict[str, list[float]]:
        ids = list(dict.fromkeys(product_ids))
        if not ids:
            return {}
        name = self._table_name(_PRODUCTS_META)
        out: dict[str, list[float]] = {}
        for i in range(0, len(ids), 1000):  # bounded IN lists
            rows = self._rows(name, _in("product_id", ids[i : i + 1000]), ["product_id", "vector"])
            out.update({r["product_id"]: [float(x) for x in r["vector"]] for r in rows})
        return out

    def reset_product_vectors(self) -> None:
        self._reset_index(_PRODUCTS_META)

    # --- users -----------------------------------------------------------------------------
    def upsert_user_vectors(self, users: Sequence[UserVector], info: IndexInfo) -> int:
        records.check_users(users, info)
        name = self._claim_index(_USERS_META, info, "user vectors were", "embed_users", bool(users))
        rows = []
        for u in users:
            u = u.model_copy(update={"updated_at": records.to_utc(u.updated_at)})
            keys = u.model_dump(include={"user_id", "persona_hash", "embedder"})
            vector = np.asarray(u.vector, np.float32)
            rows.append({**keys, "vector": vector, "doc": u.model_dump_json(exclude={"vector"})})
        return self._upsert(name, _USERS, "user_id", rows) if name else 0

    def get_user_vector(self, user_id: str) -> UserVector | None:
        where = f"user_id = {_lit(user_id)}"
        rows = self._serving_rows(_USERS_META, where, ["vector", "doc"])
        if not rows:
            return None
        vector = [float(x) for x in rows[0]["vector"]]
        return UserVector(**json.loads(rows[0]["doc"]), vector=vector)

    def user_persona_hashes(self) -> dict[str, str]:
        rows = self._rows(self._table_name(_USERS_META), None, ["user_id", "persona_hash"])
        return {r["user_id"]: r["persona_hash"] for r in rows}

    def reset_user_vectors(self) -> None:
        self._reset_index(_USERS_META)

    # --- chat logs and feedback ------------------------------------------------------------
    def add_chat_log(self, log: ChatLog) -> None:
        self.add_chat_logs([log])

    def add_chat_logs(self, logs: Sequence[ChatLog]) -> None:
        """One merge for the whole batch: every Lance write is a table version, so per-log writes
        would pile up versions and slow every later read of the logs."""
        rows = []
        for log in logs:
            log = log.model_copy(update={"created_at": records.to_utc(log.created_at)})
            row = {"log_id": log.log_id, "user_id": log.user_id, "created_us": _micros(log.created_at)}
            rows.append({**row, "doc": log.model_dump_json()})
        self._append("chat_logs", _LOGS, "log_id", rows)

    def chat_logs(
        self,
        user_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[ChatLog], int]:
        clauses = [f"user_id = {_lit(user_id)}"] if user_id is not None else []
        if start is not None:
            clauses.append(f"created_us >= {_micros(start)}")
        if end is not None:
            clauses.append(f"created_us < {_micros(end)}")
        # Lance has no ORDER BY: sort the small key columns here, then fetch one page of docs.
        keys = self._rows("chat_logs", _and(clauses), ["log_id", "created_us"])
        keys.sort(key=lambda r: (r["created_us"], r["log_id"]), reverse=True)
        offset, limit = max(offset, 0), max(limit, 0)
        page = [r["log_id"] for r in keys[offset : offset + limit]]
        docs = self._docs("chat_logs", "log_id", _in("log_id", page)) if page else {}
        return [ChatLog.model_validate_json(docs[i]) for i in page if i in docs], len(keys)

    def add_feedback(self, feedback: Feedback) -> None:
        fb = feedback.model_copy(update={"created_at": records.to_utc(feedback.created_at)})
        row = {
            "feedback_id": fb.feedback_id,
            "user_id": fb.user_id,
            "created_us": _micros(fb.created_at),
        }
        self._append("feedback", _FEEDBACK, "feedback_id", [{**row, "doc": fb.model_dump_json()}])

    def feedback(self, user_id: str | None = None) -> list[Feedback]:
        where = f"user_id = {_lit(user_id)}" if user_id is not None else None
        rows = self._rows("feedback", where, ["feedback_id", "created_us", "doc"])
        rows.sort(key=lambda r: (r["created_us"], r["feedback_id"]), reverse=True)
        return [Feedback.model_validate_json(r["doc"]) for r in rows]

    # --- source status ---------------------------------------------------------------------
    def put_source_status(self, status: SourceStatus) -> None:
        row = {"source": status.source, "doc": status.model_dump_json()}
        self._upsert("source_status", _STATUS, "source", [row])

    def source_statuses(self) -> list[SourceStatus]:
        docs = self._docs("source_status", "source", None)
        return [SourceStatus.model_validate_json(docs[s]) for s in sorted(docs)]

    # --- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self._tables.clear()
