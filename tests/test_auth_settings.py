"""Auth settings: production refuses weak keys and dev-only switches; the dev key persists."""

from __future__ import annotations

import stat

import pytest

from finray.auth.accounts import parse_kakao_links, parse_user_ids
from finray.auth.keys import signing_key
from finray.config import SettingsError

STRONG = "q8Zr1vL0xP3mT7sN2bK9wJ5yH4cF6dA0eG1iU8oR"


def test_prod_api_start_up_refuses_a_missing_signing_key(make_settings):
    from fastapi import FastAPI

    from finray.auth import AuthService
    from serve_apps.security import install_security

    s = make_settings(FINRAY_ENV="prod")  # data jobs may run without the key …
    for start in (lambda: signing_key(s), lambda: AuthService.from_settings(s),
                  lambda: install_security(FastAPI(), s, redact_logs=False)):
        with pytest.raises(SettingsError) as info:  # … the API may not
            start()
        msg = str(info.value)
        assert msg.startswith("AUTH_JWT_SECRET: required when FINRAY_ENV=prod") and "\n" not in msg
    assert not (s.home / "auth" / "jwt_signing.key").exists()  # no dev key is made in prod
    assert not (s.home / "auth.sqlite").exists()  # and nothing was opened before the refusal


def test_a_short_signing_key_is_refused_everywhere(make_settings):
    for env in ("dev", "prod"):
        with pytest.raises(SettingsError, match="^AUTH_JWT_SECRET: too short"):
            make_settings(FINRAY_ENV=env, AUTH_JWT_SECRET="x" * 31)


@pytest.mark.parametrize(
    "key",
    [
        "change-me-change-me-change-me-change-me",  # placeholder
        "my-super-secret-jwt-signing-key-for-prod",  # "secret"
        "finray-production-signing-key-2026-xyz!",  # names the product
        "abababababababababababababababababababab",  # low entropy
        "default-key-default-key-default-key-0000",
    ],
)
def test_prod_refuses_default_looking_or_low_entropy_keys(make_settings, key):
    with pytest.raises(SettingsError, match="^AUTH_JWT_SECRET: looks like a default"):
        make_settings(FINRAY_ENV="prod", AUTH_JWT_SECRET=key)


def test_prod_accepts_a_strong_key_and_refuses_dev_login(make_settings):
    s = make_settings(FINRAY_ENV="prod", AUTH_JWT_SECRET=STRONG)
    assert signing_key(s) == STRONG.encode()
    with pytest.raises(SettingsError, match="^AUTH_DEV_LOGIN: must be false when FINRAY_ENV=prod"):
        make_settings(FINRAY_ENV="prod", AUTH_JWT_SECRET=STRONG, AUTH_DEV_LOGIN="true")


def test_prod_needs_https_for_kakao(make_settings):
    with pytest.raises(SettingsError, match="^KAKAO_REDIRECT_URI: must be https://"):
        make_settings(FINRAY_ENV="prod", AUTH_JWT_SECRET=STRONG, KAKAO_CLIENT_ID="abc",
                      KAKAO_REDIRECT_URI="http://api.example.com/api/v1/auth/kakao/callback")
    with pytest.raises(SettingsError, match="^KAKAO_AUTH_HOST: must be https://"):
        make_settings(FINRAY_ENV="prod", AUTH_JWT_SECRET=STRONG, KAKAO_AUTH_HOST="http://127.0.0.1:1")


def test_kakao_client_id_needs_a_redirect_uri(make_settings):
    with pytest.raises(SettingsError, match="^KAKAO_REDIRECT_URI: required when KAKAO_CLIENT_ID"):
        make_settings(KAKAO_CLIENT_ID="abc")


def test_admin_ids_and_kakao_links_are_validated_and_parsed(make_settings):
    s = make_settings(AUTH_ADMIN_USER_IDS="U0000001, U0000002", AUTH_KAKAO_LINKS="123=U0000003,456 = U0000004")
    assert parse_user_ids(s.auth_admin_user_ids) == {"U0000001", "U0000002"}
    assert parse_kakao_links(s.auth_kakao_links) == {"123": "U0000003", "456": "U0000004"}
    with pytest.raises(SettingsError, match="^AUTH_ADMIN_USER_IDS: expected comma-separated user ids"):
        make_settings(AUTH_ADMIN_USER_IDS="admin")
    with pytest.raises(SettingsError, match="^AUTH_KAKAO_LINKS: expected kakao_id=U0000001 pairs"):
        make_settings(AUTH_KAKAO_LINKS="abc=U0000001")


def test_secrets_do_not_show_in_settings_repr(make_settings):
    s = make_settings(AUTH_JWT_SECRET=STRONG, KAKAO_CLIENT_ID="abc", KAKAO_REDIRECT_URI="http://x/cb",
                      KAKAO_CLIENT_SECRET="kakao-secret-value-123")
    assert STRONG not in repr(s) and "kakao-secret-value-123" not in repr(s)


def test_dev_key_is_random_per_install_persisted_and_private(make_settings, tmp_path):
    s = make_settings()
    key = signing_key(s)
    path = s.home / "auth" / "jwt_signing.key"
    assert len(key) >= 64 and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signing_key(make_settings()) == key  # a restart reads the same key
    other = signing_key(type(s)(FINRAY_HOME=str(tmp_path / "other-install")))
    assert other != key


def test_damaged_dev_key_file_is_a_clear_error(make_settings):
    s = make_settings()
    path = s.home / "auth" / "jwt_signing.key"
    path.parent.mkdir(parents=True)
    path.write_text("short\n")
    with pytest.raises(SettingsError, match="damaged; delete it"):
        signing_key(s)
