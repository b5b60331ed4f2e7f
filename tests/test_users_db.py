"""User DB: schema, deterministic demo seeding, read-only engines, partitioned streaming reads.

The MariaDB tests run only when ``FINRAY_TEST_MYSQL_URL`` is set (e.g.
``mysql+pymysql://root@127.0.0.1:3306/test``). They work in a throw-away database created next to
the one in the URL (dropped afterwards), so they never touch tables someone else owns.
"""

from __future__ import annotations

import os
import sqlite3
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from finray.users import db as users_db
from finray.users import demo
from finray.users.db import (
    ASSETS,
    KEYWORDS,
    USER_INFO,
    USERS,
    UserDBError,
    UserRecord,
    count_users,
    create_admin_engine,
    create_readonly_engine,
    fetch_user,
    fetch_users,
    iter_user_partition,
    user_id_partitions,
)
from finray.users.demo import KEYWORD_POOL, seed_demo_users
from finray.users.models import ASSET_CLASSES, RISK_PROFILE_KO, Base, make_user_id

MYSQL_URL = os.environ.get("FINRAY_TEST_MYSQL_URL")
needs_mysql = pytest.mark.skipif(
    not MYSQL_URL, reason="set FINRAY_TEST_MYSQL_URL=mysql+pymysql://root@127.0.0.1:3306/test"
)


# --------------------------------------------------------------------------------------------
# helpers / fixtures
# --------------------------------------------------------------------------------------------


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the four user tables, sorted, for exact comparisons."""
    engine = create_admin_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: sorted(tuple(r) for r in conn.execute(select(t)).all())
                for t in (USERS, ASSETS, USER_INFO, KEYWORDS)
            }
    finally:
        engine.dispose()


def _all_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(USERS.c.user_id).order_by(USERS.c.user_id)).scalars())


@pytest.fixture(scope="module")
def seeded_200(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite DB with 200 demo users (seed 42), shared by the read tests."""
    url = _sqlite_url(tmp_path_factory.mktemp("users") / "users.sqlite")
    assert seed_demo_users(url, 200, seed=42) == 200
    return url


@pytest.fixture(scope="module")
def ro_200(seeded_200: str) -> Iterator[Engine]:
    engine = create_readonly_engine(seeded_200)
    yield engine
    engine.dispose()


# --------------------------------------------------------------------------------------------
# schema
# --------------------------------------------------------------------------------------------


def test_constants() -> None:
    assert RISK_PROFILE_KO == {
        1: "안정형", 2: "안정추구형", 3: "위험중립형", 4: "적극투자형", 5: "공격투자형"
    }
    assert ASSET_CLASSES == ("예적금", "주식", "펀드", "부동산", "연금", "현금")
    assert make_user_id(1) == "U0000001" and make_user_id(1_000_000) == "U1000000"
    with pytest.raises(ValueError):
        make_user_id(10_000_000)


def test_models_create_on_sqlite_and_enforce_constraints(tmp_path: Path) -> None:
    engine = create_admin_engine(_sqlite_url(tmp_path / "sub" / "dir" / "u.sqlite"))
    Base.metadata.create_all(engine)
    insp = inspect(engine)
    assert {"users", "assets", "user_info", "keywords", "seed_meta"} <= set(insp.get_table_names())
    assert [c["name"] for c in insp.get_columns("users")] == [
        "user_id", "age", "gender", "risk_profile", "created_at"
    ]
    assert insp.get_pk_constraint("assets")["constrained_columns"] == ["user_id", "asset_class"]
    assert insp.get_pk_constraint("keywords")["constrained_columns"] == ["user_id", "keyword"]
    assert insp.get_pk_constraint("user_info")["constrained_columns"] == ["user_id"]
    assert {fk["referred_table"] for fk in insp.get_foreign_keys("assets")} == {"users"}

    ok = {"user_id": "U0000001", "age": 34, "gender": "M", "risk_profile": 3}
    with engine.begin() as conn:
        conn.execute(insert(USERS), ok)
        conn.execute(insert(ASSETS), {"user_id": "U0000001", "asset_class": "주식", "amount_krw": 5})
        conn.execute(insert(KEYWORDS), {"user_id": "U0000001", "keyword": "ETF"})
        created = conn.execute(select(USERS.c.created_at)).scalar_one()
    assert created is not None  # server default

    bad_rows = [
        (USERS, {**ok, "user_id": "U0000002", "risk_profile": 6}),
        (USERS, {**ok, "user_id": "U0000003", "risk_profile": 0}),
        (USERS, {**ok, "user_id": "U0000004", "gender": "X"}),
        (ASSETS, {"user_id": "U0000001", "asset_class": "코인", "amount_krw": 1}),
        (ASSETS, {"user_id": "U0000001", "asset_class": "현금", "amount_krw": -1}),
        (ASSETS, {"user_id": "U0000001", "asset_class": "주식", "amount_krw": 7}),  # duplicate
        (KEYWORDS, {"user_id": "U0000001", "keyword": "ETF"}),  # duplicate
    ]
    for table, row in bad_rows:
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(table), row)
    engine.dispose()


# --------------------------------------------------------------------------------------------
# demo seeding
# --------------------------------------------------------------------------------------------


def test_seed_is_deterministic_and_independent_of_batch_size(tmp_path: Path) -> None:
    a, b, c = (_sqlite_url(tmp_path / f"{x}.sqlite") for x in "abc")
    seed_demo_users(a, 200, seed=42)
    seed_demo_users(b, 200, seed=42, batch_size=7)
    seed_demo_users(c, 200, seed=43)
    da, db, dc = _dump(a), _dump(b), _dump(c)
    assert len(da["users"]) == 200
    assert da == db
    assert da["users"] != dc["users"] and da["assets"] != dc["assets"]
    assert [r[0] for r in da["users"]] == [make_user_id(i) for i in range(1, 201)]


def test_seed_is_idempotent_and_extends_or_truncates_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _sqlite_url(tmp_path / "u.sqlite")
    seed_demo_users(url, 200, seed=42)
    before = _dump(url)

    # Same (n, seed): nothing is generated or written.
    with monkeypatch.context() as m:
        m.setattr(demo, "_generate_block", lambda *a: pytest.fail("re-seed regenerated data"))
        assert seed_demo_users(url, 200, seed=42) == 200
    assert _dump(url) == before

    fresh = {n: _sqlite_url(tmp_path / f"fresh{n}.sqlite") for n in (150, 1300)}
    for n, u in fresh.items():
        seed_demo_users(u, n, seed=42)

    seed_demo_users(url, 1300, seed=42)  # extend (crosses an RNG block boundary)
    assert _dump(url) == _dump(fresh[1300])
    seed_demo_users(url, 150, seed=42)  # truncate
    assert _dump(url) == _dump(fresh[150])

    seed_demo_users(url, 150, seed=7)  # another seed replaces the demo data
    other = _dump(url)
    assert len(other["users"]) == 150 and other != _dump(fresh[150])


def test_seed_never_overwrites_a_real_user_db(tmp_path: Path) -> None:
    url = _sqlite_url(tmp_path / "real.sqlite")
    engine = create_admin_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(USERS), {"user_id": "U9999999", "age": 40, "gender": "F", "risk_profile": 2}
        )
    engine.dispose()
    with pytest.raises(UserDBError, match="refusing to overwrite"):
        seed_demo_users(url, 50)
    assert [r[0] for r in _dump(url)["users"]] == ["U9999999"]


@pytest.mark.parametrize(
    ("n", "seed", "batch_size"), [(9, 42, 10), (1_000_001, 42, 10), (10, -1, 10), (10, 42, 0)]
)
def test_seed_rejects_bad_arguments(tmp_path: Path, n: int, seed: int, batch_size: int) -> None:
    with pytest.raises(ValueError):
        seed_demo_users(_sqlite_url(tmp_path / "x.sqlite"), n, seed=seed, batch_size=batch_size)


def _traced_peak_seed(url: str, n: int) -> int:
    tracemalloc.start()
    try:
        assert seed_demo_users(url, n, seed=42, batch_size=2000) == n
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_seed_in_bounded_memory_with_plausible_data(tmp_path: Path) -> None:
    """Peak memory must not grow with n: 4k and 20k users (2 vs 10 batches) peak alike.

    (20k rather than 50k keeps the test quick: tracemalloc slows allocation-heavy code ~5x.)
    """
    small = _traced_peak_seed(_sqlite_url(tmp_path / "small.sqlite"), 4_000)
    url = _sqlite_url(tmp_path / "big.sqlite")
    t0 = time.perf_counter()
    peak = _traced_peak_seed(url, 20_000)
    elapsed = time.perf_counter() - t0
    # Holding all 20k users' rows at once would cost ~25 MB of tuples/strings; a batch is ~2 MB.
    assert peak < 16 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB"
    assert peak < 1.5 * small + 2**20, f"peak grew with n: {small:,} → {peak:,} bytes"
    assert elapsed < 120

    engine = create_readonly_engine(url)
    with engine.connect() as conn:
        q = lambda sql: conn.execute(text(sql)).all()  # noqa: E731
        ((lo_age, hi_age, lo_r, hi_r),) = q(
            "SELECT MIN(age), MAX(age), MIN(risk_profile), MAX(risk_profile) FROM users"
        )
        assert (lo_age, hi_age, lo_r, hi_r) == (20, 79, 1, 5)
        ((lo_t, hi_t),) = q(
            "SELECT MIN(target_retirement_age), MAX(target_retirement_age) FROM user_info"
        )
        assert 55 <= lo_t and hi_t <= 70
        kw_counts = {c for (c,) in q("SELECT COUNT(*) FROM keywords GROUP BY user_id")}
        assert kw_counts == {1, 2, 3, 4, 5}
        assert {k for (k,) in q("SELECT DISTINCT keyword FROM keywords")} <= set(KEYWORD_POOL)
        assert {c for (c,) in q("SELECT DISTINCT asset_class FROM assets")} == set(ASSET_CLASSES)
        # older customers are more conservative, and 50+ richer than under-40s
        risk = dict(q("SELECT age >= 60, AVG(risk_profile) FROM users GROUP BY age >= 60"))
        assert risk[1] < risk[0] - 0.5
        wealth = dict(
            q(
                "SELECT u.age >= 50, AVG(t.total) FROM users u JOIN (SELECT user_id, "
                "SUM(amount_krw) AS total FROM assets GROUP BY user_id) t USING (user_id) "
                "WHERE u.age < 40 OR u.age >= 50 GROUP BY u.age >= 50"
            )
        )
        assert wealth[1] > 2 * wealth[0]
        # 청년도약계좌 is for 만 19–34세 only
        ((old_youth,),) = q(
            "SELECT COUNT(*) FROM keywords k JOIN users u USING (user_id) "
            "WHERE k.keyword = '청년도약계좌' AND u.age > 34"
        )
        assert old_youth == 0
        ((med_income,),) = q(
            "SELECT annual_income_krw FROM user_info ORDER BY annual_income_krw "
            "LIMIT 1 OFFSET 10000"
        )
        assert 2_000 * 10_000 <= med_income <= 6_000 * 10_000  # median 2천만 ~ 6천만원
    engine.dispose()


# --------------------------------------------------------------------------------------------
# reads
# --------------------------------------------------------------------------------------------


def test_fetch_users_and_fetch_user(ro_200: Engine) -> None:
    assert count_users(ro_200) == 200
    got = fetch_users(ro_200, ["U0000005", "U9999999", "U0000002", "U0000005"])
    assert [r.user_id for r in got] == ["U0000005", "U0000002"]  # asked order, unknown skipped
    assert fetch_users(ro_200, []) == []
    assert fetch_user(ro_200, "U0000999") is None

    rec = fetch_user(ro_200, "U0000001")
    assert isinstance(rec, UserRecord)
    assert 20 <= rec.age <= 79 and rec.gender in ("M", "F") and 1 <= rec.risk_profile <= 5
    assert rec.assets and list(rec.assets) == [c for c in ASSET_CLASSES if c in rec.assets]
    assert rec.total_assets_krw == sum(rec.assets.values()) > 0
    assert rec.info is not None and 55 <= rec.info.target_retirement_age <= 70
    assert 1 <= len(rec.keywords) <= 5 and list(rec.keywords) == sorted(rec.keywords)
    with pytest.raises(Exception):  # frozen
        rec.age = 99  # type: ignore[misc]

    # matches the raw rows
    with ro_200.connect() as conn:
        raw_assets = dict(
            conn.execute(
                select(ASSETS.c.asset_class, ASSETS.c.amount_krw).where(
                    ASSETS.c.user_id == "U0000001"
                )
            ).all()
        )
    assert rec.assets == raw_assets


def test_fetch_users_splits_long_id_lists(ro_200: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    wanted = [make_user_id(i) for i in range(200, 0, -1)]
    whole = fetch_users(ro_200, wanted)
    monkeypatch.setattr(users_db, "_IN_CHUNK", 7)  # many IN chunks, same answer
    assert fetch_users(ro_200, wanted) == whole
    assert [r.user_id for r in whole] == wanted


@pytest.mark.parametrize("n_partitions", [1, 3, 7, 16, 199, 200, 500])
def test_partitions_cover_every_user_exactly_once(ro_200: Engine, n_partitions: int) -> None:
    parts = user_id_partitions(ro_200, n_partitions)
    assert len(parts) == min(n_partitions, 200)
    assert all(lo <= hi for lo, hi in parts)
    assert all(prev_hi < lo for (_, prev_hi), (lo, _) in zip(parts, parts[1:]))  # ordered, disjoint

    seen: list[str] = []
    sizes = []
    for lo, hi in parts:
        batches = iter_user_partition(ro_200, lo, hi, batch_size=13)
        part = [r.user_id for batch in batches for r in batch]
        assert all(lo <= uid <= hi for uid in part)
        sizes.append(len(part))
        seen += part
    assert seen == _all_ids(ro_200)  # union == all ids, in order, no duplicates
    assert max(sizes) - min(sizes) <= 1


def test_partition_streaming_batches_and_records(ro_200: Engine) -> None:
    batches = list(iter_user_partition(ro_200, "U0000001", "U0000200", batch_size=64))
    assert [len(b) for b in batches] == [64, 64, 64, 8]
    streamed = [r for b in batches for r in b]
    assert streamed == fetch_users(ro_200, _all_ids(ro_200))
    # exact multiple of batch_size ends cleanly; ranges outside the data are empty
    exact = iter_user_partition(ro_200, "U0000001", "U0000100", batch_size=50)
    assert [len(b) for b in exact] == [50, 50]
    assert list(iter_user_partition(ro_200, "U0000201", "U0009999")) == []
    assert list(iter_user_partition(ro_200, "U0000010", "U0000005")) == []
    with pytest.raises(ValueError):
        next(iter_user_partition(ro_200, "U0000001", "U0000002", batch_size=0))
    with pytest.raises(ValueError):
        user_id_partitions(ro_200, 0)


def test_partitions_of_an_empty_table(tmp_path: Path) -> None:
    url = _sqlite_url(tmp_path / "empty.sqlite")
    admin = create_admin_engine(url)
    Base.metadata.create_all(admin)
    admin.dispose()
    ro = create_readonly_engine(url)
    assert count_users(ro) == 0
    assert user_id_partitions(ro, 4) == []
    assert list(iter_user_partition(ro, "U0000000", "U9999999")) == []
    ro.dispose()


# --------------------------------------------------------------------------------------------
# read-only engines and clear errors
# --------------------------------------------------------------------------------------------


def test_readonly_sqlite_rejects_writes(seeded_200: str, ro_200: Engine) -> None:
    before = _dump(seeded_200)
    writes = [
        "INSERT INTO keywords (user_id, keyword) VALUES ('U0000001', '해킹')",
        "UPDATE users SET age = 99",
        "DELETE FROM assets",
        "CREATE TABLE evil (x INTEGER)",
    ]
    for sql in writes:
        with pytest.raises(DBAPIError, match="readonly"), ro_200.begin() as conn:
            conn.execute(text(sql))
    assert _dump(seeded_200) == before
    assert count_users(ro_200) == 200  # still readable after the failed writes


def test_readonly_sqlite_path_with_special_characters(tmp_path: Path) -> None:
    path = tmp_path / "my dir #1" / "users?100%.sqlite"
    seed_demo_users(_sqlite_url(path), 10)
    ro = create_readonly_engine(_sqlite_url(path))
    assert count_users(ro) == 10
    with pytest.raises(DBAPIError), ro.begin() as conn:
        conn.execute(text("DELETE FROM users"))
    ro.dispose()


def test_missing_sqlite_file_is_a_one_line_error_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nope.sqlite"
    ro = create_readonly_engine(_sqlite_url(path))
    with pytest.raises(UserDBError) as err:
        count_users(ro)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("FINRAY_USER_DB_URL:")
    assert str(path) in msg and "seed_users" in msg
    assert not path.exists()


def test_db_without_tables_names_the_seed_command(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE other (x INTEGER)").connection.close()
    ro = create_readonly_engine(_sqlite_url(path))
    for call in (
        lambda: count_users(ro),
        lambda: fetch_user(ro, "U0000001"),
        lambda: user_id_partitions(ro, 2),
        lambda: list(iter_user_partition(ro, "U0000001", "U0000002")),
    ):
        seed_hint = r"^FINRAY_USER_DB_URL: .*python -m data_jobs seed_users"
        with pytest.raises(UserDBError, match=seed_hint):
            call()


def test_unreachable_mysql_is_a_one_line_error() -> None:
    ro = create_readonly_engine("mysql+pymysql://finray:secret@127.0.0.1:1/finray")
    with pytest.raises(UserDBError) as err:
        count_users(ro)
    msg = str(err.value)
    assert msg.startswith("FINRAY_USER_DB_URL: cannot connect to ") and "\n" not in msg
    assert "secret" not in msg


def test_bad_urls() -> None:
    with pytest.raises(UserDBError, match="in-memory"):
        create_readonly_engine("sqlite://")
    with pytest.raises(UserDBError, match="FINRAY_USER_DB_URL"):
        create_readonly_engine("postgresql://u@h/db")


# --------------------------------------------------------------------------------------------
# MariaDB / MySQL (FINRAY_TEST_MYSQL_URL)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mysql_db_url() -> Iterator[str]:
    """A throw-away database on the FINRAY_TEST_MYSQL_URL server, seeded with 50 demo users."""
    assert MYSQL_URL
    base = make_url(MYSQL_URL)
    name = f"finray_users_test_{uuid.uuid4().hex[:10]}"
    server = create_engine(base.set(database=None))
    try:
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except DBAPIError as err:  # no CREATE DATABASE grant: cannot isolate, so don't touch the DB
        server.dispose()
        pytest.skip(f"cannot create a scratch database on {base.host}: {err.orig}")
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        assert seed_demo_users(url, 50, seed=42) == 50
        yield url
    finally:
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@pytest.mark.integration
@needs_mysql
def test_mysql_readonly_engine_reads_and_rejects_writes(mysql_db_url: str, tmp_path: Path) -> None:
    ro = create_readonly_engine(mysql_db_url)
    try:
        assert count_users(ro) == 50
        rec = fetch_user(ro, "U0000001")
        assert rec is not None and rec.keywords and rec.assets
        # same seed → the same users on SQLite and MariaDB (Korean text round-trips)
        sqlite_url = _sqlite_url(tmp_path / "same.sqlite")
        seed_demo_users(sqlite_url, 50, seed=42)
        ids = [make_user_id(i) for i in range(1, 51)]
        sqlite_ro = create_readonly_engine(sqlite_url)
        assert fetch_users(ro, ids) == fetch_users(sqlite_ro, ids)
        sqlite_ro.dispose()

        for sql in (
            "INSERT INTO keywords (user_id, keyword) VALUES ('U0000001', '해킹')",
            "UPDATE users SET age = 99 WHERE user_id = 'U0000001'",
            "DELETE FROM assets",
        ):
            with pytest.raises(DBAPIError) as err, ro.begin() as conn:
                conn.execute(text(sql))
            # 1792: Cannot execute statement in a READ ONLY transaction
            assert err.value.orig.args[0] == 1792
        # every pooled connection is read-only, not just the first one
        conns = [ro.connect() for _ in range(3)]
        try:
            for conn in conns:
                with pytest.raises(DBAPIError):
                    conn.execute(text("UPDATE users SET age = 98"))
                conn.rollback()
        finally:
            for conn in conns:
                conn.close()
        assert fetch_user(ro, "U0000001") == rec
    finally:
        ro.dispose()


@pytest.mark.integration
@needs_mysql
def test_mysql_partitions_cover_every_user_exactly_once(mysql_db_url: str) -> None:
    ro = create_readonly_engine(mysql_db_url)
    try:
        for n_partitions in (1, 4, 7, 50, 64):
            parts = user_id_partitions(ro, n_partitions)
            assert len(parts) == min(n_partitions, 50)
            seen = [
                r.user_id
                for lo, hi in parts
                for batch in iter_user_partition(ro, lo, hi, batch_size=6)
                for r in batch
            ]
            assert seen == _all_ids(ro)
    finally:
        ro.dispose()


@pytest.mark.integration
@needs_mysql
def test_mysql_missing_tables_error(mysql_db_url: str) -> None:
    server = create_engine(make_url(mysql_db_url))
    name = f"finray_users_empty_{uuid.uuid4().hex[:8]}"
    with server.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}`"))
    try:
        ro = create_readonly_engine(make_url(mysql_db_url).set(database=name))
        with pytest.raises(UserDBError, match="user tables missing.*seed_users"):
            count_users(ro)
        ro.dispose()
    finally:
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()
