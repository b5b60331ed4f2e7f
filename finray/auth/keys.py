"""The JWT signing key: from ``AUTH_JWT_SECRET``, or (dev only) a random key kept per install.

Production must set ``AUTH_JWT_SECRET`` (≥ 32 bytes of randomness, e.g. ``openssl rand -base64
48``): :mod:`finray.config` refuses a short key anywhere and a placeholder-looking or low-entropy
one in ``FINRAY_ENV=prod``; a *missing* key in prod is refused here, when the API builds its
token service — so processes that never sign tokens (data jobs) need not hold the secret. In dev an unset key becomes 64 random bytes written once to
``$FINRAY_HOME/auth/jwt_signing.key`` (mode 0600): tokens then survive a restart of the service
(``make down && make up``), yet no two installs share a key and nothing secret is committed.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from finray.config import Settings, SettingsError

MIN_KEY_BYTES = 32


def signing_key(settings: Settings) -> bytes:
    """The HS256 key for this deployment (see the module docstring for where it comes from)."""
    if settings.auth_jwt_secret is not None:
        key = settings.auth_jwt_secret.get_secret_value().encode()
        if len(key) < MIN_KEY_BYTES:  # config already refuses this; keep the invariant local too
            raise SettingsError("AUTH_JWT_SECRET: too short; use at least 32 random bytes")
        return key
    if settings.env == "prod":
        raise SettingsError("AUTH_JWT_SECRET: required when FINRAY_ENV=prod (openssl rand -base64 48)")
    return dev_key(Path(settings.home) / "auth" / "jwt_signing.key")


def dev_key(path: Path) -> bytes:
    """Read the per-install key at ``path``, creating it atomically on first use.

    Several replicas may start at once: the key is written to a private temp file and
    hard-linked into place, so exactly one creator wins and everybody reads the same bytes.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.urlsafe_b64encode(secrets.token_bytes(64)).decode() + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race; use its key
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_text().strip().encode()
    if len(key) < MIN_KEY_BYTES:
        raise SettingsError(f"AUTH_JWT_SECRET: dev key file {path} is damaged; delete it to regenerate")
    return key
