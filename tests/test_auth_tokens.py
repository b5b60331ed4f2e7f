"""Security suite for our tokens: what must be rejected, rotation, reuse detection, revocation.

Runs against the SQLite store always and against Redis when FINRAY_TEST_REDIS_URL is set.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from finray.auth import InvalidToken, RefreshReuse, TokenService
from finray.auth.tokens import REQUIRED_CLAIMS, hash_refresh_token
from tests.security_support import (
    AUDIENCE,
    ISSUER,
    KEY,
    FakeClock,
    cleanup_redis,
    craft_jwt,
    good_claims,
    make_store,
)

HEADER = {"alg": "HS256", "typ": "at+jwt"}


@pytest.fixture(params=["sqlite", "redis"])
def store_pair(request, tmp_path: Path):
    store, reopen = make_store(request.param, tmp_path)
    yield store, reopen
    store.close()
    if request.param == "redis":
        cleanup_redis(os.environ["FINRAY_TEST_REDIS_URL"], store.prefix)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_service(store, clock: FakeClock, **kw) -> TokenService:
    return TokenService(KEY, store, issuer=ISSUER, audience=AUDIENCE, clock=clock, **kw)


@pytest.fixture
def svc(store_pair, clock):
    return make_service(store_pair[0], clock, admin_user_ids={"U0000009"})


def reason_of(svc: TokenService, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        svc.verify_access(token)
    return info.value.reason


# --- happy path -----------------------------------------------------------------------------


def test_issued_access_token_verifies_and_carries_the_claims(svc, clock):
    pair = svc.issue("U0000001")
    p = svc.verify_access(pair.access_token)
    assert (p.user_id, p.session_id, p.is_admin, p.roles) == ("U0000001", pair.session_id, False, ("user",))
    assert p.expires_at == int(clock()) + 900
    header = jwt.get_unverified_header(pair.access_token)
    assert header == {"alg": "HS256", "typ": "at+jwt"}
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    assert set(REQUIRED_CLAIMS) <= set(claims)
    assert (pair.access_expires_in, pair.refresh_expires_in) == (900, 14 * 86400)
    assert pair.refresh_token.startswith("frt_") and len(pair.refresh_token) == 47


def test_admin_role_comes_from_the_allow_list(svc):
    assert svc.verify_access(svc.issue("U0000009").access_token).roles == ("user", "admin")


def test_refresh_tokens_are_stored_hashed_only(store_pair, svc, tmp_path):
    pair = svc.issue("U0000001")
    store = store_pair[0]
    if hasattr(store, "path"):
        raw = Path(store.path).read_bytes() + b"".join(
            p.read_bytes() for p in Path(store.path).parent.glob("auth.sqlite-*")
        )
        assert pair.refresh_token.encode() not in raw
        assert hash_refresh_token(pair.refresh_token).encode() in raw


# --- rejected access tokens -----------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_rejected(svc, clock, alg):
    token = craft_jwt({"alg": alg, "typ": "at+jwt"}, good_claims(clock()), key=None)
    assert reason_of(svc, token) == "invalid_token"


def test_unsigned_token_with_hs256_header_is_rejected(svc, clock):
    token = craft_jwt(HEADER, good_claims(clock()), key=None)
    assert reason_of(svc, token) == "invalid_token"


def test_rs256_token_is_rejected_even_when_correctly_signed(svc, clock):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(good_claims(clock()), private, algorithm="RS256", headers={"typ": "at+jwt"})
    assert reason_of(svc, token) == "invalid_token"


def test_hs_rs_confusion_public_key_as_hmac_secret_is_rejected(svc, clock):
    """The classic attack: sign HS256 with the (public) RSA key bytes as the HMAC secret."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = craft_jwt(HEADER, good_claims(clock()), key=public_pem)
    assert reason_of(svc, token) == "invalid_token"


@pytest.mark.parametrize("alg,digest", [("HS384", "sha384"), ("HS512", "sha512")])
def test_other_hmac_algorithms_with_the_right_key_are_rejected(svc, clock, alg, digest):
    token = craft_jwt({"alg": alg, "typ": "at+jwt"}, good_claims(clock()), key=KEY, alg=digest)
    assert reason_of(svc, token) == "invalid_token"


def test_hand_made_token_with_the_right_key_is_accepted(svc, clock):
    """Control for the crafted-token tests: they fail for the reason under test, not the crafting."""
    token = craft_jwt(HEADER, good_claims(clock()))
    assert svc.verify_access(token).user_id == "U0000001"


def test_missing_typ_is_rejected(svc, clock):
    assert reason_of(svc, craft_jwt({"alg": "HS256"}, good_claims(clock()))) == "invalid_token"


def test_wrong_key_is_rejected(svc, clock):
    assert reason_of(svc, craft_jwt(HEADER, good_claims(clock()), key=b"x" * 48)) == "invalid_token"


def test_tampered_payload_is_rejected(svc, clock):
    token = svc.issue("U0000001").access_token
    head, _payload, sig = token.split(".")
    forged = craft_jwt(HEADER, good_claims(clock(), sub="U0000002")).split(".")[1]
    with pytest.raises(InvalidToken, match="signature"):
        svc.verify_access(f"{head}.{forged}.{sig}")


def test_tampered_signature_is_rejected(svc):
    token = svc.issue("U0000001").access_token
    head, payload, sig = token.split(".")
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    assert reason_of(svc, f"{head}.{payload}.{flipped}") == "invalid_token"


@pytest.mark.parametrize("field,value", [("aud", "someone-else"), ("iss", "evil-issuer")])
def test_wrong_audience_or_issuer_is_rejected(svc, clock, field, value):
    with pytest.raises(InvalidToken, match="audience|issuer"):
        svc.verify_access(craft_jwt(HEADER, good_claims(clock(), **{field: value})))


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_every_required_claim_is_required(svc, clock, claim):
    claims = good_claims(clock())
    del claims[claim]
    assert reason_of(svc, craft_jwt(HEADER, claims)) == "invalid_token"


def test_expired_token_is_rejected_after_its_lifetime_plus_leeway(svc, clock):
    token = svc.issue("U0000001").access_token
    clock.advance(900 + 4)
    svc.verify_access(token)  # within the 5 s leeway
    clock.advance(2)
    assert reason_of(svc, token) == "token_expired"


def test_nbf_in_the_future_is_rejected(svc, clock):
    token = craft_jwt(HEADER, good_claims(clock(), nbf=int(clock()) + 60))
    with pytest.raises(InvalidToken, match="nbf"):
        svc.verify_access(token)


def test_iat_in_the_future_is_rejected(svc, clock):
    now = int(clock())
    token = craft_jwt(HEADER, good_claims(clock(), iat=now + 60, nbf=now, exp=now + 900))
    with pytest.raises(InvalidToken, match="future"):
        svc.verify_access(token)


def test_overlong_lifetime_is_rejected(svc, clock):
    token = craft_jwt(HEADER, good_claims(clock(), exp=int(clock()) + 86400))
    with pytest.raises(InvalidToken, match="lifetime"):
        svc.verify_access(token)


@pytest.mark.parametrize("sub", ["admin", "U123", 1, "U0000001; DROP"])
def test_subject_must_be_a_user_id(svc, clock, sub):
    assert reason_of(svc, craft_jwt(HEADER, good_claims(clock(), sub=sub))) == "invalid_token"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 5000])
def test_garbage_is_rejected(svc, token):
    assert reason_of(svc, token) == "invalid_token"


def test_service_refuses_a_short_key(store_pair, clock):
    with pytest.raises(ValueError, match="32 bytes"):
        TokenService(b"short", store_pair[0], issuer=ISSUER, audience=AUDIENCE)


# --- refresh rotation and reuse ----------------------------------------------------------------


def test_refresh_rotates_and_works_once(svc):
    first = svc.issue("U0000001")
    second = svc.refresh(first.refresh_token)
    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token
    assert svc.verify_access(second.access_token).user_id == "U0000001"
    third = svc.refresh(second.refresh_token)
    assert svc.verify_access(third.access_token).session_id == first.session_id


def test_reusing_a_refresh_token_revokes_the_whole_family(svc):
    first = svc.issue("U0000001")
    second = svc.refresh(first.refresh_token)
    other_session = svc.issue("U0000001")  # a different device: must survive
    with pytest.raises(RefreshReuse):
        svc.refresh(first.refresh_token)
    for token in (first.access_token, second.access_token):
        assert reason_of(svc, token) == "token_revoked"
    with pytest.raises(InvalidToken) as info:
        svc.refresh(second.refresh_token)  # the attacker's or the victim's newer token: dead too
    assert info.value.reason in {"token_revoked", "refresh_token_reused"}
    assert svc.verify_access(other_session.access_token).user_id == "U0000001"


def test_reuse_is_detected_after_a_restart(store_pair, clock):
    store, reopen = store_pair
    svc = make_service(store, clock)
    first = svc.issue("U0000001")
    second = svc.refresh(first.refresh_token)
    restarted_store = reopen()
    try:
        restarted = make_service(restarted_store, clock)
        with pytest.raises(RefreshReuse):
            restarted.refresh(first.refresh_token)
        again = make_service(reopen(), clock)  # and the revocation itself survives a restart
        assert reason_of(again, second.access_token) == "token_revoked"
        with pytest.raises(InvalidToken):
            again.refresh(second.refresh_token)
    finally:
        restarted_store.close()


def test_concurrent_refresh_with_one_token_lets_exactly_one_consume_and_none_keep_a_session(svc):
    """Six racing uses of one refresh token: the store hands it out once, the other five count as
    reuse and revoke the family — so whoever won ends up with nothing usable either (strict
    rotation: a raced refresh token is treated as a stolen one)."""
    pair = svc.issue("U0000001")
    outcomes: list[str] = []
    issued = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def worker() -> None:
        barrier.wait()
        try:
            got = svc.refresh(pair.refresh_token)
            result = "ok"
            with lock:
                issued.append(got)
        except RefreshReuse:
            result = "reuse"
        except InvalidToken as err:
            result = err.reason  # the winner, if the family was revoked between its two steps
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("reuse") == 5
    assert outcomes.count("ok") + outcomes.count("token_revoked") == 1
    for got in issued:
        assert reason_of(svc, got.access_token) == "token_revoked"
        with pytest.raises(InvalidToken):
            svc.refresh(got.refresh_token)
    assert reason_of(svc, pair.access_token) == "token_revoked"


def test_refresh_token_expires(svc, clock):
    pair = svc.issue("U0000001")
    clock.advance(14 * 86400 + 1)
    with pytest.raises(InvalidToken) as info:
        svc.refresh(pair.refresh_token)
    assert info.value.reason == "token_expired"


@pytest.mark.parametrize("token", ["", "frt_short", "not-a-token", "frt_" + "a" * 43 + "!"])
def test_malformed_refresh_tokens_are_rejected(svc, token):
    with pytest.raises(InvalidToken):
        svc.refresh(token)


def test_unknown_refresh_token_is_rejected(svc):
    with pytest.raises(InvalidToken, match="unknown"):
        svc.refresh("frt_" + "a" * 43)


# --- logout -------------------------------------------------------------------------------------


def test_logout_revokes_access_and_refresh_at_once(svc):
    pair = svc.issue("U0000001")
    svc.revoke_session(pair.session_id)
    assert reason_of(svc, pair.access_token) == "token_revoked"
    with pytest.raises(InvalidToken) as info:
        svc.refresh(pair.refresh_token)
    assert info.value.reason == "token_revoked"


def test_logout_with_only_the_refresh_token(svc):
    pair = svc.issue("U0000001")
    assert svc.revoke_by_refresh_token(pair.refresh_token) == pair.session_id
    assert reason_of(svc, pair.access_token) == "token_revoked"
    with pytest.raises(InvalidToken):
        svc.refresh(pair.refresh_token)


def test_revocation_outlives_every_token_of_the_family_then_expires(svc, clock, store_pair):
    pair = svc.issue("U0000001")
    svc.revoke_session(pair.session_id)
    store = store_pair[0]
    assert store.is_family_revoked(pair.session_id, clock() + 14 * 86400 - 1)
    assert not store.is_family_revoked(pair.session_id, clock() + 14 * 86400 + 1)
