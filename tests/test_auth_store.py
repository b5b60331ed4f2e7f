"""The auth store contract (SQLite always; Redis when FINRAY_TEST_REDIS_URL is set)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from finray.auth.store import AuthStoreError, RefreshRecord, SQLiteAuthStore, open_auth_store
from tests.security_support import cleanup_redis, make_store

NOW = 1_780_000_000.0


@pytest.fixture(params=["sqlite", "redis"])
def stores(request, tmp_path: Path):
    store, reopen = make_store(request.param, tmp_path)
    yield store, reopen
    store.close()
    if request.param == "redis":
        cleanup_redis(os.environ["FINRAY_TEST_REDIS_URL"], store.prefix)


def test_state_works_once(stores):
    store, _ = stores
    store.put_state("s1", {"provider": "kakao"}, NOW + 600)
    assert store.take_state("s1", NOW) == {"provider": "kakao"}
    assert store.take_state("s1", NOW) is None
    assert store.take_state("never-issued", NOW) is None


def test_expired_state_is_refused_and_gone(stores):
    store, _ = stores
    store.put_state("s2", {"provider": "kakao"}, NOW + 600)
    assert store.take_state("s2", NOW + 601) is None
    assert store.take_state("s2", NOW) is None  # taking it consumed it, even though expired


def test_state_taken_concurrently_is_handed_out_once(stores):
    store, _ = stores
    store.put_state("s3", {"n": 1}, NOW + 600)
    got: list[object] = []
    barrier = threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        got.append(store.take_state("s3", NOW))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [g for g in got if g is not None] == [{"n": 1}]


def test_consume_refresh_statuses(stores):
    store, _ = stores
    rec = RefreshRecord("fam1", "U0000001", NOW, NOW + 100)
    store.add_refresh("h1", rec)
    assert store.consume_refresh("h1", NOW) == ("ok", rec)
    assert store.consume_refresh("h1", NOW + 1) == ("reused", rec)
    assert store.consume_refresh("nope", NOW) == ("unknown", None)


def test_family_revocation_and_links_survive_a_restart(stores):
    store, reopen = stores
    store.revoke_family("fam2", NOW + 1000)
    store.set_link("kakao", "123", "U0000002", NOW)
    again = reopen()
    try:
        assert again.is_family_revoked("fam2", NOW)
        assert not again.is_family_revoked("fam2", NOW + 1001)
        assert not again.is_family_revoked("other", NOW)
        assert again.get_link("kakao", "123") == "U0000002"
        assert again.delete_link("kakao", "123") is True
        assert again.delete_link("kakao", "123") is False
        assert again.get_link("kakao", "123") is None
    finally:
        again.close()


def test_revocation_never_shortens(stores):
    store, _ = stores
    store.revoke_family("fam3", NOW + 1000)
    store.revoke_family("fam3", NOW + 10)
    assert store.is_family_revoked("fam3", NOW + 500)


def test_sqlite_sweeps_expired_rows(tmp_path):
    store = SQLiteAuthStore(tmp_path / "a.sqlite")
    store.add_refresh("old", RefreshRecord("f", "U0000001", NOW, NOW + 10))
    store.put_state("old-state", {}, NOW + 10)
    store.add_refresh("new", RefreshRecord("f", "U0000001", NOW + 1000, NOW + 5000))  # sweeps
    rows = store._conn.execute("SELECT token_hash FROM refresh_tokens").fetchall()
    assert rows == [("new",)]
    assert store._conn.execute("SELECT count(*) FROM oauth_states").fetchone() == (0,)
    store.close()


def test_open_auth_store_picks_by_settings(make_settings, tmp_path):
    s = make_settings()
    store = open_auth_store(s)
    assert isinstance(store, SQLiteAuthStore) and store.path == s.home / "auth.sqlite"
    store.close()


def test_unusable_sqlite_path_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(AuthStoreError, match="FINRAY_HOME: cannot open auth store"):
        SQLiteAuthStore(tmp_path / "file" / "auth.sqlite")


def test_unreachable_redis_is_one_clear_error():
    from finray.auth.store import RedisAuthStore

    with pytest.raises(AuthStoreError, match="REDIS_URL: cannot reach Redis"):
        RedisAuthStore("redis://127.0.0.1:1/0")


def test_consume_refresh_is_atomic_under_threads(stores):
    store, _ = stores
    store.add_refresh("race", RefreshRecord("fam4", "U0000001", NOW, NOW + 100))
    got: list[str] = []
    barrier = threading.Barrier(8)

    def consume() -> None:
        barrier.wait()
        got.append(store.consume_refresh("race", NOW)[0])

    threads = [threading.Thread(target=consume) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == ["ok"] + ["reused"] * 7
