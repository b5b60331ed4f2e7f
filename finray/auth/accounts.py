"""Which finray customer a Kakao account is: account links, kept in the service's own store.

The customer DB is read-only for this service and has no Kakao column, so the link
``kakao id → user_id`` lives in the auth store (:mod:`finray.auth.store`), never in the user DB.

**Policy for a Kakao account we have not seen before** — link only what someone vouched for,
never guess and never create customers:

1. A stored link wins (it was made on an earlier login or by an admin).
2. Otherwise ``AUTH_KAKAO_LINKS`` (``kakao_id=U0000001,…``, the allow-list the customer's home
   service exports) is consulted; a hit is stored as the link on first login, so later edits of
   the setting do not silently move an account — an admin re-links explicitly.
3. Otherwise the login is refused with 403 ``account_not_linked``, naming the Kakao member
   number so support can link it (``POST /api/v1/auth/links`` as an admin).

Why not auto-create a service-side profile: every personalised feature (persona, 적합성 원칙
checks, recommendations) needs the customer's record from the user DB; an empty profile would
either be useless or — if it borrowed a ``U…`` id — point at somebody else's data. A linked user
that no longer exists in the user DB is refused too (``linked_user_missing``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

from sqlalchemy import Engine

from finray.auth.errors import AuthMisconfigured, NotLinked
from finray.auth.store import AuthStore
from finray.users.db import UserDBError, UserRecord, fetch_user, iter_user_partition

KAKAO = "kakao"


class UserDirectory(Protocol):
    """Read-only questions about customers; backed by the user DB."""

    def exists(self, user_id: str) -> bool: ...

    def sample(self, limit: int) -> list[UserRecord]:
        """The first ``limit`` users in ``user_id`` order (dev login's picker)."""


class ReadOnlyUserDirectory:
    """:class:`UserDirectory` over an engine from :func:`finray.users.db.create_readonly_engine`.

    A user DB that cannot be read (not seeded yet, unreachable) becomes
    :class:`AuthMisconfigured` (``user_db_unavailable`` → 503), not an unhandled 500.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def exists(self, user_id: str) -> bool:
        try:
            return fetch_user(self.engine, user_id) is not None
        except UserDBError as err:
            raise AuthMisconfigured(str(err), reason="user_db_unavailable") from None

    def sample(self, limit: int) -> list[UserRecord]:
        try:
            batches = iter_user_partition(self.engine, "U0000000", "U9999999", batch_size=max(1, limit))
            return next(iter(batches), [])[:limit]
        except UserDBError as err:
            raise AuthMisconfigured(str(err), reason="user_db_unavailable") from None


def parse_kakao_links(raw: str) -> dict[str, str]:
    """``"123=U0000001, 456=U0000002"`` → ``{"123": "U0000001", "456": "U0000002"}``.

    The format is validated by :mod:`finray.config` at start-up.
    """
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        kakao_id, _, user_id = part.partition("=")
        out[kakao_id.strip()] = user_id.strip()
    return out


def parse_user_ids(raw: str) -> frozenset[str]:
    """``AUTH_ADMIN_USER_IDS`` → a set of user ids."""
    return frozenset(filter(None, (p.strip() for p in raw.split(","))))


class AccountLinks:
    """Resolve and manage Kakao → finray links under the policy in the module docstring."""

    def __init__(
        self,
        store: AuthStore,
        allow_list: Mapping[str, str],
        users: UserDirectory | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.allow_list = dict(allow_list)
        self.users = users
        self.clock = clock

    def resolve(self, kakao_id: int | str) -> str:
        """The finray user id for a Kakao account; :class:`NotLinked` when there is none."""
        subject = str(kakao_id)
        user_id = self.store.get_link(KAKAO, subject)
        if user_id is None:
            user_id = self.allow_list.get(subject)
            if user_id is None:
                raise NotLinked(
                    f"Kakao account {subject} is not linked to a finray customer; "
                    "ask support to link it"
                )
            self._require_user(user_id)
            self.store.set_link(KAKAO, subject, user_id, self.clock())
            return user_id
        self._require_user(user_id)
        return user_id

    def link(self, kakao_id: int | str, user_id: str) -> None:
        """Admin action: (re)link a Kakao account to an existing customer."""
        self._require_user(user_id)
        self.store.set_link(KAKAO, str(kakao_id), user_id, self.clock())

    def unlink(self, kakao_id: int | str) -> bool:
        return self.store.delete_link(KAKAO, str(kakao_id))

    def _require_user(self, user_id: str) -> None:
        if self.users is not None and not self.users.exists(user_id):
            raise NotLinked(
                f"linked customer {user_id} does not exist in the user DB", reason="linked_user_missing"
            )
