"""Deterministic demo users, so the whole product runs on a laptop without a real customer DB.

:func:`seed_demo_users` fills the four user tables with ``n`` synthetic Korean adults (10 …
1,000,000) whose ages, incomes, 투자성향, asset mixes, retirement goals and interest keywords
follow plausible distributions (sources of the orders of magnitude: 통계청 인구·소득 통계,
가계금융복지조사 자산 구성, 국민연금연구원 적정 노후생활비 ≈ 개인 월 190만~부부 300만원).

Design choices:

* **User ``i`` depends only on ``(seed, i)``.** Users are generated in fixed blocks of
  :data:`RNG_BLOCK` with one numpy ``Generator`` per ``(seed, block)``. So the data does not
  depend on ``batch_size``, growing ``n`` appends exactly the users a fresh seed of the larger
  ``n`` would have, and shrinking ``n`` just deletes the tail. (Deterministic for a given numpy
  version: numpy may change its distribution algorithms across major versions.)
* **Bounded memory.** Generation is vectorized per block and rows are inserted with Core
  ``executemany`` in transactions of about ``batch_size`` users; no list of all users ever exists.
* **Idempotent via ``seed_meta``.** One row records ``(seed, generator_version, n_users)``, and
  ``n_users`` is updated in the same transaction as each inserted batch, so it always equals the
  committed prefix even after a crash. Re-seeding with the same ``(n, seed)`` is a no-op; a
  different ``n`` extends or truncates; a different seed (or generator version, or a row count
  that no longer matches) drops the demo tables and seeds anew. A ``users`` table with rows but
  no ``seed_meta`` row is real data and is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update
from sqlalchemy.engine import URL

from finray.users.db import ASSETS, KEYWORDS, USER_INFO, USERS, UserDBError, create_admin_engine
from finray.users.models import ASSET_CLASSES, Base, SeedMeta, make_user_id

SEED_META: Table = SeedMeta.__table__  # type: ignore[assignment]

#: Bump when the generated data changes, so old demo DBs are re-seeded instead of extended.
GENERATOR_VERSION = 1
#: Users per RNG stream. A constant (not ``batch_size``) so the data never depends on batching.
RNG_BLOCK = 1000
MIN_USERS, MAX_USERS = 10, 1_000_000

_MAN = 10_000  # 1만원

# --- distributions ----------------------------------------------------------------------------
# Age decades 20s … 70s: share of Korean adults aged 20–79 (통계청 주민등록인구, rounded).
_DECADE_P = np.array([0.16, 0.17, 0.19, 0.20, 0.18, 0.10])
_FEMALE_P = np.array([0.48, 0.48, 0.49, 0.50, 0.52, 0.56])
# 투자성향 1…5 per decade: older customers skew to 안정형/안정추구형.
_RISK_P = np.array(
    [
        [0.10, 0.20, 0.30, 0.25, 0.15],
        [0.12, 0.23, 0.30, 0.22, 0.13],
        [0.15, 0.27, 0.30, 0.18, 0.10],
        [0.22, 0.32, 0.27, 0.13, 0.06],
        [0.35, 0.35, 0.20, 0.07, 0.03],
        [0.50, 0.30, 0.14, 0.04, 0.02],
    ]
)
_RISK_CUM = np.cumsum(_RISK_P, axis=1)
# Median annual income (만원) by age, interpolated; log-normal spread around it.
_INCOME_AGE = np.array([20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 79])
_INCOME_MEDIAN = np.array([2200, 3000, 3900, 4500, 5000, 5300, 5300, 4800, 3300, 2400, 1800, 1400])
# Total assets ≈ income × multiplier(age) × log-normal noise.
_WEALTH_AGE = np.array([20, 25, 30, 35, 40, 50, 60, 70, 79])
_WEALTH_MULT = np.array([0.5, 1.0, 2.0, 3.0, 4.5, 6.5, 10.0, 13.0, 14.0])
# Asset classes in ASSET_CLASSES order: 예적금, 주식, 펀드, 부동산, 연금, 현금.
_HOME_P = np.array([0.08, 0.35, 0.55, 0.65, 0.70, 0.72])  # by decade, if total ≥ 1억
_PENSION_P = np.array([0.20, 0.40, 0.55, 0.60, 0.65, 0.50])  # by decade
_DEPOSIT_P = np.array([0.92, 0.90, 0.85, 0.80, 0.75])  # by risk profile
_STOCK_P = np.array([0.15, 0.30, 0.55, 0.75, 0.90])
_FUND_P = np.array([0.05, 0.15, 0.30, 0.40, 0.45])
# Gamma shape per class and risk profile: how large a share a present class tends to take.
_ALPHA = np.array(
    [
        #   예적금 주식 펀드 부동산 연금 현금
        [4.0, 0.5, 0.5, 8.0, 1.0, 0.6],
        [3.5, 1.0, 1.0, 8.0, 1.0, 0.6],
        [2.5, 2.0, 1.5, 8.0, 1.2, 0.5],
        [1.5, 3.0, 2.0, 8.0, 1.2, 0.5],
        [1.0, 4.0, 2.0, 8.0, 1.2, 0.4],
    ]
)
_KEYWORD_COUNT_P = np.array([0.15, 0.30, 0.30, 0.15, 0.10])  # 1…5 keywords

# Interest keywords: relative weight per decade (20s … 70s) and how 투자성향 shifts it.
_AGGRESSIVE = (0.3, 0.6, 1.0, 1.5, 2.0)
_CONSERVATIVE = (2.0, 1.5, 1.0, 0.7, 0.5)
_NEUTRAL = (1.0, 1.0, 1.0, 1.0, 1.0)
_KEYWORDS: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...] = (
    ("내집마련", (6, 8, 5, 2, 1, 0.5), _NEUTRAL),
    ("노후준비", (1, 2, 4, 7, 8, 7), _NEUTRAL),
    ("자녀교육", (0.2, 4, 7, 3, 0.5, 0.2), _NEUTRAL),
    ("절세", (2, 4, 5, 5, 3, 2), _NEUTRAL),
    ("목돈마련", (7, 5, 3, 2, 1, 0.5), _NEUTRAL),
    ("비상금", (4, 3, 2, 2, 2, 2), _CONSERVATIVE),
    ("해외주식", (5, 4, 3, 2, 1, 0.5), _AGGRESSIVE),
    ("배당", (2, 3, 4, 5, 5, 3), _NEUTRAL),
    ("ETF", (6, 5, 4, 3, 2, 1), _AGGRESSIVE),
    ("청년도약계좌", (8, 3, 0, 0, 0, 0), _NEUTRAL),  # 만 19–34세 only, enforced below
    ("연금저축", (2, 4, 5, 6, 4, 1), _NEUTRAL),
    ("예금금리", (2, 3, 4, 5, 7, 8), _CONSERVATIVE),
    ("전세", (5, 5, 2, 1, 0.5, 0.3), _NEUTRAL),
    ("결혼자금", (6, 3, 0.3, 0.2, 0.1, 0.1), _NEUTRAL),
    ("여행", (4, 3, 2, 3, 4, 3), _NEUTRAL),
    ("국내주식", (3, 3, 3, 3, 2, 1), _AGGRESSIVE),
    ("채권", (0.5, 1, 2, 3, 4, 3), _CONSERVATIVE),
    ("금투자", (1, 1, 2, 2, 2, 2), _NEUTRAL),
    ("자녀결혼", (0, 0, 0.5, 3, 3, 1), _NEUTRAL),
    ("의료비", (0.2, 0.3, 0.5, 2, 4, 6), _CONSERVATIVE),
    ("상속증여", (0.1, 0.2, 0.5, 2, 4, 5), _NEUTRAL),
    ("ISA", (2, 3, 3, 2, 1, 0.5), _NEUTRAL),
    ("IRP", (1, 3, 4, 4, 2, 0.5), _NEUTRAL),
    ("주택청약", (5, 5, 3, 1, 0.3, 0.1), _NEUTRAL),
    ("자동차구입", (3, 3, 1.5, 1, 0.5, 0.2), _NEUTRAL),
    ("창업", (2, 2, 1, 1, 0.5, 0.1), _AGGRESSIVE),
    ("연금수령", (0, 0, 0.2, 2, 5, 6), _CONSERVATIVE),
)
KEYWORD_POOL: tuple[str, ...] = tuple(k for k, _, _ in _KEYWORDS)
_KW_NAMES = np.array(KEYWORD_POOL)
_KW_YOUTH = KEYWORD_POOL.index("청년도약계좌")
with np.errstate(divide="ignore"):
    _KW_LOG_DECADE = np.log(np.array([w for _, w, _ in _KEYWORDS]).T)  # (6, K)
    _KW_LOG_RISK = np.log(np.array([r for _, _, r in _KEYWORDS]).T)  # (5, K)

_CREATED_FROM = datetime(2015, 1, 1)
_CREATED_SPAN_S = 11 * 365 * 86_400


@dataclass(frozen=True, slots=True)
class _Block:
    """Column arrays for one RNG block of users (index ``i`` ↔ user number ``start + i + 1``)."""

    start: int
    age: list[int]
    gender: list[str]
    risk: list[int]
    created_at: list[datetime]
    amounts: list[list[int]]  # per user, per ASSET_CLASSES, 원
    income: list[int]
    retire_age: list[int]
    living_cost: list[int]
    keywords: list[list[str]]


def _round_to(x: np.ndarray, unit_won: int) -> np.ndarray:
    """Round 만원 amounts to ``unit_won`` and return 원 as int64."""
    return (np.rint(x * _MAN / unit_won) * unit_won).astype(np.int64)


def _generate_block(seed: int, block: int) -> _Block:
    """All data of users ``block*RNG_BLOCK … +RNG_BLOCK-1``, from ``(seed, block)`` only."""
    rng = np.random.default_rng([seed, block, GENERATOR_VERSION])
    b = RNG_BLOCK
    decade = rng.choice(6, size=b, p=_DECADE_P)
    age = 20 + 10 * decade + rng.integers(0, 10, size=b)
    female = rng.random(b) < _FEMALE_P[decade]
    risk = (rng.random(b)[:, None] > _RISK_CUM[decade]).sum(axis=1).clip(0, 4) + 1  # 1…5

    income_man = np.interp(age, _INCOME_AGE, _INCOME_MEDIAN) * np.exp(rng.normal(0, 0.5, b))
    income_man = income_man.clip(600, 50_000)  # 600만원 … 5억
    wealth_mult = np.interp(age, _WEALTH_AGE, _WEALTH_MULT)
    wealth_man = income_man * wealth_mult * np.exp(rng.normal(0, 0.8, b))
    wealth_man = wealth_man.clip(300, 3_000_000)  # 300만원 … 300억

    r = risk - 1
    present = np.ones((b, len(ASSET_CLASSES)), dtype=bool)
    home_p = _HOME_P[decade] * np.where(wealth_man >= 10_000, 1.0, 0.2)
    stock_p = _STOCK_P[r] + np.where(age < 40, 0.05, 0.0)
    for col, p in enumerate((_DEPOSIT_P[r], stock_p, _FUND_P[r], home_p, _PENSION_P[decade])):
        present[:, col] = rng.random(b) < p  # 현금 (last column) is always present
    weights = rng.gamma(_ALPHA[r]) * present
    shares = weights / weights.sum(axis=1, keepdims=True)
    amounts = _round_to(wealth_man[:, None] * shares, _MAN)

    # 은퇴 목표: older customers aim later; those still working aim past their current age;
    # 70대 are mostly retired already, so their target stays below their age.
    target = rng.normal(60 + np.clip(age - 45, 0, None) * 0.15, 3.0, b)
    target = np.where(age < 70, np.maximum(target, age + 1), target)
    retire_age = np.rint(target).clip(55, 70).astype(np.int64)
    living_man = 250 * (income_man / 4000) ** 0.35 * np.exp(rng.normal(0, 0.3, b))
    living_cost = _round_to(living_man.clip(120, 1200), 10 * _MAN)

    n_kw = rng.choice(5, size=b, p=_KEYWORD_COUNT_P) + 1
    log_w = _KW_LOG_DECADE[decade] + _KW_LOG_RISK[r]
    log_w[age > 34, _KW_YOUTH] = -np.inf
    order = np.argsort(-(log_w + rng.gumbel(size=log_w.shape)), axis=1, kind="stable")
    top = _KW_NAMES[order[:, :5]].tolist()  # Gumbel top-k = weighted sampling w/o replacement

    seconds = rng.integers(0, _CREATED_SPAN_S, size=b).tolist()
    return _Block(
        start=block * b,
        age=age.tolist(),
        gender=np.where(female, "F", "M").tolist(),
        risk=risk.tolist(),
        created_at=[_CREATED_FROM + timedelta(seconds=s) for s in seconds],
        amounts=amounts.tolist(),
        income=_round_to(income_man, 10 * _MAN).tolist(),
        retire_age=retire_age.tolist(),
        living_cost=living_cost.tolist(),
        keywords=[kws[:m] for kws, m in zip(top, n_kw.tolist(), strict=True)],
    )


Row = tuple[object, ...]


@dataclass(slots=True)
class _Rows:
    """One insert batch as positional tuples, each in its table's column order."""

    users: list[Row]  # user_id, age, gender, risk_profile, created_at
    assets: list[Row]  # user_id, asset_class, amount_krw
    info: list[Row]  # user_id, annual_income_krw, target_retirement_age, desired_monthly_…
    keywords: list[Row]  # user_id, keyword

    def __len__(self) -> int:
        return len(self.users)


def _append_rows(rows: _Rows, blk: _Block, lo: int, hi: int) -> None:
    """Add users with 0-based indices ``lo … hi-1`` (all inside ``blk``) to ``rows``."""
    for idx in range(lo, hi):
        j = idx - blk.start
        uid = make_user_id(idx + 1)
        rows.users.append((uid, blk.age[j], blk.gender[j], blk.risk[j], blk.created_at[j]))
        rows.assets.extend(
            (uid, c, a) for c, a in zip(ASSET_CLASSES, blk.amounts[j], strict=True) if a > 0
        )
        rows.info.append((uid, blk.income[j], blk.retire_age[j], blk.living_cost[j]))
        rows.keywords.extend((uid, k) for k in blk.keywords[j])


def _iter_demo_rows(seed: int, start: int, stop: int, batch_size: int) -> Iterator[_Rows]:
    """Rows of demo users with 0-based indices ``start … stop-1``, ``batch_size`` at a time."""
    if start >= stop:
        return
    rows = _Rows([], [], [], [])
    for block in range(start // RNG_BLOCK, (stop - 1) // RNG_BLOCK + 1):
        blk = _generate_block(seed, block)
        lo, hi = max(start, blk.start), min(stop, blk.start + RNG_BLOCK)
        while lo < hi:
            take = min(hi, lo + batch_size - len(rows))
            _append_rows(rows, blk, lo, take)
            lo = take
            if len(rows) >= batch_size:
                yield rows
                rows = _Rows([], [], [], [])
    if rows.users:
        yield rows


def _insert(conn: Connection, table: Table, rows: list[Row]) -> None:
    """``executemany`` of a compiled Core ``INSERT`` with plain tuples.

    Bypassing per-row SQLAlchemy parameter processing makes seeding several times faster and
    allocates far less (which is what keeps the memory test cheap); the column types' own bind
    processors are still applied (e.g. DATETIME → text on SQLite), so stored values are exactly
    what an ORM/Core insert would have written.
    """
    if not rows:
        return
    dialect = conn.dialect
    compiled = insert(table).compile(dialect=dialect)
    names = [c.name for c in table.columns]
    procs = [
        (i, p)
        for i, col in enumerate(table.columns)
        if (p := col.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    if procs:
        rows = [_processed(r, procs) for r in rows]
    if compiled.positional:  # qmark/format (SQLite): tuples in the compiled order
        assert list(compiled.positiontup or ()) == names, "column order drifted from the model"
        conn.exec_driver_sql(compiled.string, rows)
    else:  # named/pyformat (PyMySQL): dicts; PyMySQL still folds them into multi-row INSERTs
        conn.exec_driver_sql(compiled.string, [dict(zip(names, r, strict=True)) for r in rows])


def _processed(row: Row, procs: list[tuple[int, Callable[[Any], Any]]]) -> Row:
    out = list(row)
    for i, p in procs:
        out[i] = p(out[i])
    return tuple(out)


def _count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(USERS)).scalar_one())


def seed_demo_users(url: str | URL, n: int, seed: int = 42, batch_size: int = 5000) -> int:
    """Make the DB at ``url`` hold exactly demo users ``U0000001 … U{n:07d}`` for ``seed``.

    Creates missing tables; see the module docstring for idempotence, extension and truncation.
    Returns ``n``. Raises :class:`UserDBError` if the DB holds users it did not create.
    """
    if not MIN_USERS <= n <= MAX_USERS:
        raise ValueError(f"n must be between {MIN_USERS} and {MAX_USERS:,}, got {n}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")

    engine = create_admin_engine(url)
    try:
        return _seed(engine, n, seed, batch_size)
    finally:
        engine.dispose()


def _seed(engine: Engine, n: int, seed: int, batch_size: int) -> int:
    Base.metadata.create_all(engine)
    with engine.connect() as conn:
        meta = conn.execute(select(SEED_META).where(SEED_META.c.id == 1)).first()
        existing = _count(conn)
    if meta is None and existing:
        raise UserDBError(
            f"FINRAY_USER_DB_URL: the users table already holds {existing:,} users that the demo "
            "seeder did not create; refusing to overwrite them"
        )
    if meta is not None and (
        meta.seed != seed or meta.generator_version != GENERATOR_VERSION or meta.n_users != existing
    ):
        # Other demo data (or a tampered/partial copy): start over. Dropping is much faster than
        # DELETE for large tables and the tables are ours (seed_meta proves it).
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        meta = None
    if meta is None:
        with engine.begin() as conn:
            conn.execute(
                insert(SEED_META),
                {"id": 1, "seed": seed, "generator_version": GENERATOR_VERSION, "n_users": 0},
            )
        done = 0
    else:
        done = int(meta.n_users)

    if n == done:  # already seeded with this (n, seed): nothing to do
        return n
    if n < done:
        last = make_user_id(n)
        with engine.begin() as conn:
            for table in (KEYWORDS, USER_INFO, ASSETS, USERS):
                conn.execute(delete(table).where(table.c.user_id > last))
            conn.execute(update(SEED_META).where(SEED_META.c.id == 1).values(n_users=n))
        return n

    for rows in _iter_demo_rows(seed, done, n, batch_size):
        with engine.begin() as conn:
            _insert(conn, USERS, rows.users)
            _insert(conn, ASSETS, rows.assets)
            _insert(conn, USER_INFO, rows.info)
            _insert(conn, KEYWORDS, rows.keywords)
            done += len(rows)
            conn.execute(update(SEED_META).where(SEED_META.c.id == 1).values(n_users=done))
    return n
