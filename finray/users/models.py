"""Schema of the user database the advisor reads (SQLite on a laptop, MySQL/MariaDB in production).

Four tables describe a customer; the service only ever reads them (see :mod:`finray.users.db`):

* ``users`` — one row per customer: ``user_id`` (``U`` + 7 digits, e.g. ``U0000001``), age,
  gender ``'M'``/``'F'``, ``risk_profile`` 1–5 (투자성향, see :data:`RISK_PROFILE_KO`).
* ``assets`` — at most one row per (user, asset class); classes are :data:`ASSET_CLASSES`.
* ``user_info`` — income and retirement goals, at most one row per user.
* ``keywords`` — the customer's interest keywords (내집마련, ETF, …), unique per user.

``seed_meta`` is bookkeeping for the demo generator (:mod:`finray.users.demo`): it records which
(seed, n) the demo data came from, so re-seeding is idempotent and a real user DB (which has no
``seed_meta`` row) is never overwritten by accident.

Why the keys look the way they do: the Ray Data ``embed_users`` job splits the user base into
``user_id`` ranges and streams each range with keyset pagination. Every table therefore has
``user_id`` as the *leading* primary-key column (the child tables use composite primary keys
``(user_id, asset_class)`` / ``(user_id, keyword)``, which also enforce the required uniqueness),
so both ``WHERE user_id > :last ORDER BY user_id LIMIT n`` on ``users`` and the per-batch lookups
on the child tables are primary-key range scans. Tables are clustered on that key (InnoDB always;
SQLite via ``WITHOUT ROWID``), so a user's assets/keywords sit physically together. No secondary
indexes are needed for that path.

``user_id`` is fixed-width (``U`` + 7 digits), so string order equals numeric order; partition
ranges computed on strings are therefore also contiguous numeric ranges.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: 투자성향 (investor risk profile), 1 = most conservative … 5 = most aggressive.
#: Note the direction is the opposite of the 6-grade *product* risk scale
#: (:data:`finray.products.model.RISK_GRADE_KO`, where 1 is the riskiest).
RISK_PROFILE_KO: dict[int, str] = {
    1: "안정형",
    2: "안정추구형",
    3: "위험중립형",
    4: "적극투자형",
    5: "공격투자형",
}

#: Allowed ``assets.asset_class`` values, in canonical display order.
ASSET_CLASSES: tuple[str, ...] = ("예적금", "주식", "펀드", "부동산", "연금", "현금")

#: Format of ``users.user_id``: ``U`` followed by this many digits.
USER_ID_DIGITS = 7


def make_user_id(number: int) -> str:
    """``make_user_id(1) == "U0000001"``; the demo seeder numbers users from 1."""
    if not 0 <= number < 10**USER_ID_DIGITS:
        raise ValueError(f"user number out of range for U+{USER_ID_DIGITS} digits: {number}")
    return f"U{number:0{USER_ID_DIGITS}d}"


# Explicit constraint names: identical DDL on SQLite and MariaDB, and readable error messages.
_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# utf8mb4 so Korean asset classes/keywords round-trip on MySQL/MariaDB whatever the server default.
# SQLite WITHOUT ROWID stores each table as a B-tree on its primary key — the same clustering
# InnoDB gives — so user_id range reads touch contiguous pages and no second index is kept.
_TABLE_OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "sqlite_with_rowid": False}

_ASSET_CLASS_SQL = ", ".join(f"'{c}'" for c in ASSET_CLASSES)


class Base(DeclarativeBase):
    """The one declarative base of the user DB; ``Base.metadata`` creates/drops all tables."""

    metadata = MetaData(naming_convention=_NAMING)


class User(Base):
    """A customer. ``created_at`` is naive UTC."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("risk_profile BETWEEN 1 AND 5", name="risk_profile"),
        CheckConstraint("gender IN ('M', 'F')", name="gender"),
        CheckConstraint("age BETWEEN 0 AND 150", name="age"),
        _TABLE_OPTS,
    )

    user_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    age: Mapped[int] = mapped_column(Integer, nullable=False)
    gender: Mapped[str] = mapped_column(String(1), nullable=False)
    risk_profile: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime, nullable=False, server_default=func.current_timestamp()
    )


class Asset(Base):
    """How much a user holds in one asset class (원); PK (user_id, asset_class) makes it unique."""

    __tablename__ = "assets"
    __table_args__ = (
        CheckConstraint(f"asset_class IN ({_ASSET_CLASS_SQL})", name="asset_class"),
        CheckConstraint("amount_krw >= 0", name="amount_krw"),
        _TABLE_OPTS,
    )

    user_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True
    )
    asset_class: Mapped[str] = mapped_column(String(8), primary_key=True)
    amount_krw: Mapped[int] = mapped_column(BigInteger, nullable=False)


class UserInfo(Base):
    """Income and retirement goals (원, 세)."""

    __tablename__ = "user_info"
    __table_args__ = (
        CheckConstraint("annual_income_krw >= 0", name="annual_income_krw"),
        CheckConstraint("desired_monthly_living_cost_krw >= 0", name="living_cost"),
        _TABLE_OPTS,
    )

    user_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True
    )
    annual_income_krw: Mapped[int] = mapped_column(BigInteger, nullable=False)
    target_retirement_age: Mapped[int] = mapped_column(Integer, nullable=False)
    desired_monthly_living_cost_krw: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Keyword(Base):
    """One interest keyword of a user. Composite PK = unique (user_id, keyword)."""

    __tablename__ = "keywords"
    __table_args__ = (_TABLE_OPTS,)

    user_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True
    )
    keyword: Mapped[str] = mapped_column(String(50), primary_key=True)


class SeedMeta(Base):
    """Which demo data is in the DB: one row (``id = 1``) written by the demo seeder only.

    ``n_users`` is updated in the same transaction as each inserted batch, so it always equals
    the committed prefix of demo users, even after a crash mid-seed.
    """

    __tablename__ = "seed_meta"
    __table_args__ = ({"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seed: Mapped[int] = mapped_column(BigInteger, nullable=False)
    generator_version: Mapped[int] = mapped_column(Integer, nullable=False)
    n_users: Mapped[int] = mapped_column(Integer, nullable=False)


#: The tables holding user data, parents first (create order; reverse for deletes).
USER_TABLES = (User.__table__, Asset.__table__, UserInfo.__table__, Keyword.__table__)
