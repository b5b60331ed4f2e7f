"""Engines and read functions for the user database.

The advisor never writes user data, so the service connects through
:func:`create_readonly_engine`, which makes writes fail *in the database*, not by convention:

* SQLite is opened with the URI ``file:<path>?mode=ro`` — the SQLite library itself refuses to
  write ("attempt to write a readonly database"), and a missing file is an error instead of a
  silently created empty DB.
* MySQL/MariaDB: every new connection runs ``SET SESSION TRANSACTION READ ONLY``, so INSERT,
  UPDATE and DELETE on normal tables fail with error 1792. A session can switch itself back
  (``SET SESSION TRANSACTION READ WRITE``) and TEMPORARY tables stay writable, so this is a guard
  against bugs, not against an attacker: **production must additionally connect with a DB
  account that has only SELECT grants** on the user tables
  (``GRANT SELECT ON finray.* TO 'finray_ro'@'%'``).

:func:`create_admin_engine` is read-write and used only by the demo seeder and tests.

Reading is shaped for the Ray Data ``embed_users`` job: :func:`user_id_partitions` splits the
users into inclusive ``user_id`` ranges of (nearly) equal size, and each read task streams one
range with :func:`iter_user_partition` (keyset pagination, bounded batches), so no process ever
loads the whole table. Every failure to reach the DB or find the tables becomes a one-line
:class:`UserDBError` naming ``FINRAY_USER_DB_URL``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, Table, create_engine, event, func, select
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError

from finray.users.models import ASSET_CLASSES, Asset, Keyword, User, UserInfo

USERS: Table = User.__table__  # type: ignore[assignment]
ASSETS: Table = Asset.__table__  # type: ignore[assignment]
USER_INFO: Table = UserInfo.__table__  # type: ignore[assignment]
KEYWORDS: Table = Keyword.__table__  # type: ignore[assignment]

SEED_HINT = "run `python -m data_jobs seed_users` first"

# Keep IN lists well below every backend's bound-parameter limit (SQLite: 32766 since 3.32).
_IN_CHUNK = 1000
# ids fetched per query while computing partition boundaries (index-only scan, few bytes each).
_PARTITION_SCAN_CHUNK = 50_000

T = TypeVar("T")


class UserDBError(RuntimeError):
    """The user DB cannot be used (unreachable, missing file or tables); message is one line."""


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------


class UserInfoRecord(BaseModel):
    """A user's ``user_info`` row."""

    model_config = ConfigDict(frozen=True)

    annual_income_krw: int = Field(ge=0)
    target_retirement_age: int
    desired_monthly_living_cost_krw: int = Field(ge=0)


class UserRecord(BaseModel):
    """Everything the advisor knows about one user, bundled from the four tables.

    ``assets`` maps asset class → 원 in :data:`~finray.users.models.ASSET_CLASSES` order (only
    classes the user has a row for); ``info`` is ``None`` when there is no ``user_info`` row;
    ``keywords`` is sorted (SQL gives no order and collations differ between backends, so sorting
    in Python keeps the persona text — and its hash — identical on SQLite and MariaDB).
    """

    model_config = ConfigDict(frozen=True)

    user_id: str
    age: int = Field(ge=0, le=150)
    gender: Literal["M", "F"]
    risk_profile: int = Field(ge=1, le=5)
    created_at: datetime | None = None
    assets: dict[str, int] = Field(default_factory=dict)
    info: UserInfoRecord | None = None
    keywords: tuple[str, ...] = ()

    @property
    def total_assets_krw(self) -> int:
        return sum(self.assets.values())


# --------------------------------------------------------------------------------------------
# engines
# --------------------------------------------------------------------------------------------


def _safe_url(url: str | URL) -> str:
    """The URL for messages: password hidden, and a read-only SQLite URI shown as its plain path."""
    try:
        u = make_url(url)
        db = u.database or ""
        is_ro_uri = db.startswith("file:") and u.query.get("mode") == "ro"
        if u.get_backend_name() == "sqlite" and is_ro_uri:
            return f"sqlite:///{unquote(db.removeprefix('file:'))}"
        return u.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - never let error reporting itself fail
        return str(url).split("://")[0] + "://…"


def _parse(url: str | URL) -> URL:
    try:
        return make_url(url)
    except Exception as err:  # noqa: BLE001
        raise UserDBError(f"FINRAY_USER_DB_URL: cannot parse {_safe_url(url)!r}: {err}") from None


def _sqlite_path(u: URL) -> str | None:
    """The ``database`` of a SQLite URL (a path or a ``file:`` URI); ``None`` if in-memory."""
    db = u.database or ""
    return None if db in ("", ":memory:") else db


def create_admin_engine(url: str | URL) -> Engine:
    """A read-write engine — for the demo seeder and tests only, never for the service.

    For SQLite the parent directory is created so a fresh ``FINRAY_HOME`` works.
    """
    u = _parse(url)
    if u.get_backend_name() == "sqlite":
        path = _sqlite_path(u)
        if path and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return _create(u)
    return _create(u, pool_pre_ping=True, pool_recycle=3600)


def create_readonly_engine(url: str | URL) -> Engine:
    """The engine the service uses; writes through it fail at the database level.

    See the module docstring for how each backend enforces it and why production also needs a
    SELECT-only account. The SQLite file must exist (``mode=ro`` never creates one); the error
    surfaces on first use as a :class:`UserDBError`.
    """
    u = _parse(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        path = _sqlite_path(u)
        if path is None:
            raise UserDBError(
                "FINRAY_USER_DB_URL: an in-memory SQLite DB cannot be opened read-only; "
                "expected sqlite:///<path>"
            )
        # A plain path becomes a URI filename; those treat '?', '#' and '%' specially, so the
        # path is percent-encoded. An existing ``file:`` URI just gets mode=ro forced on it.
        database = path if path.startswith("file:") else (
            "file:" + quote(str(Path(path).resolve()), safe="/")
        )
        return _create(u.set(database=database, query={**u.query, "mode": "ro", "uri": "true"}))
    if backend in ("mysql", "mariadb"):
        engine = _create(u, pool_pre_ping=True, pool_recycle=3600)

        @event.listens_for(engine, "connect")
        def _read_only_session(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            try:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
            finally:
                cur.close()

        return engine
    raise UserDBError(
        f"FINRAY_USER_DB_URL: unsupported backend {backend!r}; "
        "expected sqlite:///<path> or mysql+pymysql://user@host/db"
    )


def _create(u: URL, **kw: Any) -> Engine:
    try:
        return create_engine(u, **kw)
    except (NoSuchModuleError, ImportError) as err:
        raise UserDBError(
            f"FINRAY_USER_DB_URL: driver not available for {_safe_url(u)}: {err}"
        ) from None


# --------------------------------------------------------------------------------------------
# error translation
# --------------------------------------------------------------------------------------------

_MYSQL_NO_TABLE = 1146
_MYSQL_CONNECT_ERRORS = {1044, 1045, 1049, 2002, 2003, 2005, 2006, 2013}


def _first_line(err: BaseException) -> str:
    orig = getattr(err, "orig", None) or err
    text = str(orig.args[-1] if getattr(orig, "args", None) else orig)
    return text.strip().splitlines()[0] if text.strip() else type(orig).__name__


def _translate(engine: Engine, err: SQLAlchemyError) -> UserDBError:
    where = _safe_url(engine.url)
    orig = getattr(err, "orig", None)
    args = getattr(orig, "args", None) or ()
    code = args[0] if args and isinstance(args[0], int) else None
    msg = _first_line(err)
    if code == _MYSQL_NO_TABLE or "no such table" in msg.lower():
        return UserDBError(
            f"FINRAY_USER_DB_URL: user tables missing in {where} ({msg}); {SEED_HINT}"
        )
    if engine.url.get_backend_name() == "sqlite" and "unable to open database file" in msg:
        return UserDBError(
            f"FINRAY_USER_DB_URL: cannot open SQLite user DB {where} (missing or unreadable); "
            f"{SEED_HINT}"
        )
    lost = isinstance(err, DBAPIError) and err.connection_invalidated
    if code in _MYSQL_CONNECT_ERRORS or lost:
        return UserDBError(f"FINRAY_USER_DB_URL: cannot connect to {where}: {msg}")
    return UserDBError(f"FINRAY_USER_DB_URL: user DB query failed on {where}: {msg}")


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    """A connection whose DB errors surface as one-line :class:`UserDBError`."""
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as err:
        raise _translate(engine, err) from err


def _read(engine: Engine, fn: Callable[[Connection], T]) -> T:
    with _reading(engine) as conn:
        return fn(conn)


# --------------------------------------------------------------------------------------------
# reads
# --------------------------------------------------------------------------------------------


def count_users(engine: Engine) -> int:
    """Number of rows in ``users``; doubles as the start-up check that the DB is usable."""
    return _read(engine, _count)


def _count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(USERS)).scalar_one())


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# Explicit column lists, so rows can be unpacked positionally in _assemble.
_USER_COLS = (
    USERS.c.user_id,
    USERS.c.age,
    USERS.c.gender,
    USERS.c.risk_profile,
    USERS.c.created_at,
)
_ASSET_COLS = (ASSETS.c.user_id, ASSETS.c.asset_class, ASSETS.c.amount_krw)
_INFO_COLS = (
    USER_INFO.c.user_id,
    USER_INFO.c.annual_income_krw,
    USER_INFO.c.target_retirement_age,
    USER_INFO.c.desired_monthly_living_cost_krw,
)
_KEYWORD_COLS = (KEYWORDS.c.user_id, KEYWORDS.c.keyword)


def _assemble(
    user_rows: Iterable[Any],
    asset_rows: Iterable[Any],
    info_rows: Iterable[Any],
    keyword_rows: Iterable[Any],
) -> dict[str, UserRecord]:
    """Join child rows onto user rows in Python (one query per table instead of a fan-out join).

    Rows are column tuples in the order of ``_USER_COLS``, ``_ASSET_COLS``, ``_INFO_COLS`` and
    ``_KEYWORD_COLS``.
    """
    assets: dict[str, dict[str, int]] = defaultdict(dict)
    for uid, cls, amount in asset_rows:
        assets[uid][cls] = int(amount)
    infos = {
        uid: UserInfoRecord(
            annual_income_krw=int(income),
            target_retirement_age=int(retire),
            desired_monthly_living_cost_krw=int(living),
        )
        for uid, income, retire, living in info_rows
    }
    kws: dict[str, list[str]] = defaultdict(list)
    for uid, kw in keyword_rows:
        kws[uid].append(kw)
    out: dict[str, UserRecord] = {}
    for uid, age, gender, risk, created_at in user_rows:
        held = assets.get(uid, {})
        ordered = {c: held[c] for c in ASSET_CLASSES if c in held}
        if len(ordered) != len(held):  # classes outside ASSET_CLASSES (a DB without the CHECK)
            ordered.update({c: held[c] for c in sorted(held) if c not in ordered})
        out[uid] = UserRecord(
            user_id=uid,
            age=age,
            gender=gender,
            risk_profile=risk,
            created_at=created_at,
            assets=ordered,
            info=infos.get(uid),
            keywords=tuple(sorted(kws.get(uid, ()))),
        )
    return out


def _fetch_by_ids(conn: Connection, ids: Sequence[str]) -> dict[str, UserRecord]:
    user_rows: list[Any] = []
    asset_rows: list[Any] = []
    info_rows: list[Any] = []
    kw_rows: list[Any] = []
    for chunk in _chunks(ids, _IN_CHUNK):
        user_rows += conn.execute(select(*_USER_COLS).where(USERS.c.user_id.in_(chunk))).all()
        asset_rows += conn.execute(select(*_ASSET_COLS).where(ASSETS.c.user_id.in_(chunk))).all()
        info_rows += conn.execute(select(*_INFO_COLS).where(USER_INFO.c.user_id.in_(chunk))).all()
        kw_rows += conn.execute(select(*_KEYWORD_COLS).where(KEYWORDS.c.user_id.in_(chunk))).all()
    return _assemble(user_rows, asset_rows, info_rows, kw_rows)


def fetch_users(engine: Engine, user_ids: Iterable[str]) -> list[UserRecord]:
    """Records for ``user_ids`` in the order asked; unknown ids skipped, duplicates collapsed."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return []
    found = _read(engine, lambda c: _fetch_by_ids(c, ids))
    return [found[i] for i in ids if i in found]


def fetch_user(engine: Engine, user_id: str) -> UserRecord | None:
    """One user's record, or ``None`` if there is no such user."""
    got = fetch_users(engine, [user_id])
    return got[0] if got else None


def user_id_partitions(engine: Engine, n_partitions: int) -> list[tuple[str, str]]:
    """Split all users into at most ``n_partitions`` inclusive ``(lo, hi)`` ``user_id`` ranges.

    Ranges are consecutive in ``user_id`` order, sizes differ by at most one user, and every user
    falls in exactly one range; fewer ranges come back when there are fewer users than
    ``n_partitions`` (none for an empty table).

    Boundaries are real ids at quantile positions, found in one keyset-paginated pass over the
    primary-key index (``user_id`` only, 50k per query). That is the same order of work as
    ``COUNT(*)`` on InnoDB, needs no assumption about the id format (unlike min/max arithmetic,
    which would miss ids of unexpected width and unbalance sparse ids), and keeps memory bounded.
    """
    if n_partitions < 1:
        raise ValueError(f"n_partitions must be >= 1, got {n_partitions}")

    def scan(conn: Connection) -> list[tuple[str, str]] | None:
        total = _count(conn)
        if total == 0:
            return []
        k = min(n_partitions, total)
        starts = [i * total // k for i in range(k)]
        ends = [s - 1 for s in starts[1:]] + [total - 1]
        wanted = set(starts) | set(ends)
        ids_at: dict[int, str] = {}
        pos, last = 0, None
        while True:
            q = select(USERS.c.user_id).order_by(USERS.c.user_id).limit(_PARTITION_SCAN_CHUNK)
            if last is not None:
                q = q.where(USERS.c.user_id > last)
            chunk = conn.execute(q).scalars().all()
            if not chunk:
                break
            for j, uid in enumerate(chunk):
                if pos + j in wanted:
                    ids_at[pos + j] = uid
            pos += len(chunk)
            last = chunk[-1]
        if pos != total:  # the table changed between COUNT and scan: try again
            return None
        return [(ids_at[s], ids_at[e]) for s, e in zip(starts, ends, strict=True)]

    for _ in range(3):
        ranges = _read(engine, scan)
        if ranges is not None:
            return ranges
    raise UserDBError(
        f"FINRAY_USER_DB_URL: users table in {_safe_url(engine.url)} keeps changing; "
        "the user DB is expected to be read-only while partitioning"
    )


def iter_user_partition(
    engine: Engine, lo: str, hi: str, batch_size: int = 1000
) -> Iterator[list[UserRecord]]:
    """Stream the users with ``lo <= user_id <= hi`` in ``user_id`` order, ``batch_size`` at a time.

    Keyset pagination (``WHERE user_id > :last ORDER BY user_id LIMIT :n``) keeps every query an
    index range scan however deep into the range we are — unlike OFFSET — and holds at most one
    batch in memory. The child tables are read per batch with the batch's id range
    (``user_id BETWEEN first AND last``): the batch is exactly the users in that range, so this
    equals an ``IN`` list but is a single range scan on the leading PK column with no
    bound-parameter limit. Each batch uses its own pooled connection, so an abandoned iterator
    holds no connection.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    last: str | None = None
    while True:
        after = last
        batch = _read(engine, lambda c: _partition_batch(c, lo, hi, after, batch_size))
        if not batch:
            return
        yield batch
        if len(batch) < batch_size:
            return
        last = batch[-1].user_id


def _partition_batch(
    conn: Connection, lo: str, hi: str, after: str | None, batch_size: int
) -> list[UserRecord]:
    """The next ``batch_size`` users of ``[lo, hi]`` after ``after`` (from ``lo`` if ``None``)."""
    q = select(*_USER_COLS).where(USERS.c.user_id <= hi)
    q = q.where(USERS.c.user_id > after) if after is not None else q.where(USERS.c.user_id >= lo)
    users = conn.execute(q.order_by(USERS.c.user_id).limit(batch_size)).all()
    if not users:
        return []
    first, end = users[0].user_id, users[-1].user_id

    def in_batch(cols: tuple[Any, ...]) -> list[Any]:
        return list(conn.execute(select(*cols).where(cols[0].between(first, end))).all())

    found = _assemble(users, in_batch(_ASSET_COLS), in_batch(_INFO_COLS), in_batch(_KEYWORD_COLS))
    return [found[u.user_id] for u in users]
