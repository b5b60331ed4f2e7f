"""All runtime settings in one place.

Every production part (MongoDB Atlas, MySQL, Redis, Gemini, live OpenAPIs) has an embedded
default, so an empty environment runs the whole product on one laptop. Settings come from
environment variables and an optional ``.env`` file; the variable names are the ones an operator
sets (``FINRAY_STORE``, ``REDIS_URL``, ``GOOGLE_API_KEY`` ...), never prefixed twice.

A wrong or missing setting must stop start-up with one line that names the variable and what is
expected, so :func:`load_settings` turns pydantic's multi-line report into :class:`SettingsError`.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """A setting is wrong or missing; the message is one line naming the variable."""


def _default_home() -> Path:
    return Path(os.environ.get("FINRAY_HOME") or Path.cwd() / "var").resolve()


class Settings(BaseSettings):
    """Which backend serves each part, and where the embedded ones keep their files."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore",
        frozen=True,
    )

    env: Literal["dev", "prod"] = Field("dev", validation_alias="FINRAY_ENV")
    home: Path = Field(default_factory=_default_home, validation_alias="FINRAY_HOME")

    # --- backends -------------------------------------------------------------------------
    store: Literal["lance", "mongo"] = Field("lance", validation_alias="FINRAY_STORE")
    user_db_url: str | None = Field(None, validation_alias="FINRAY_USER_DB_URL")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    embedder: Literal["e5", "gemini"] = Field("e5", validation_alias="FINRAY_EMBEDDER")
    llm: Literal["offline", "gemini"] = Field("offline", validation_alias="FINRAY_LLM")
    product_source: Literal["snapshot", "live"] = Field(
        "snapshot", validation_alias="FINRAY_PRODUCT_SOURCE"
    )
    # RiskXpert's indicators: live ECOS needs ECOS_API_KEY (checked by collect_indicators only,
    # so serving pods that never collect do not need the key)
    indicator_source: Literal["snapshot", "live"] = Field(
        "snapshot", validation_alias="FINRAY_INDICATOR_SOURCE"
    )

    # --- MongoDB Atlas --------------------------------------------------------------------
    mongodb_uri: str | None = Field(None, validation_alias="MONGODB_URI")
    mongodb_db: str = Field("finray", validation_alias="MONGODB_DB")

    # --- Gemini ---------------------------------------------------------------------------
    google_api_key: str | None = Field(None, validation_alias="GOOGLE_API_KEY")
    gemini_embed_model: str = Field(
        "models/gemini-embedding-001", validation_alias="GEMINI_EMBED_MODEL"
    )
    gemini_embed_dim: int = Field(768, ge=8, le=3072, validation_alias="GEMINI_EMBED_DIM")
    gemini_chat_model: str = Field("gemini-2.5-flash", validation_alias="GEMINI_CHAT_MODEL")
    gemini_base_url: str | None = Field(None, validation_alias="GEMINI_BASE_URL")  # proxies, tests

    # --- Korean public OpenAPIs (live mode) -----------------------------------------------
    finlife_api_key: str | None = Field(None, validation_alias="FINLIFE_API_KEY")
    finlife_base_url: str = Field(
        "https://finlife.fss.or.kr/finlifeapi", validation_alias="FINLIFE_BASE_URL"
    )
    data_go_kr_api_key: str | None = Field(None, validation_alias="DATA_GO_KR_API_KEY")
    ecos_api_key: str | None = Field(None, validation_alias="ECOS_API_KEY")
    ecos_base_url: str = Field("https://ecos.bok.or.kr/api", validation_alias="ECOS_BASE_URL")
    http_timeout_s: float = Field(10.0, gt=0, validation_alias="FINRAY_HTTP_TIMEOUT_S")
    http_retries: int = Field(3, ge=0, le=10, validation_alias="FINRAY_HTTP_RETRIES")
    http_concurrency_per_host: int = Field(
        4, ge=1, le=64, validation_alias="FINRAY_HTTP_CONCURRENCY_PER_HOST"
    )

    # --- RiskXpert forecasts and the answer cache -----------------------------------------
    # where train_forecaster publishes versions and serving loads `latest` (default <home>/models;
    # any pyarrow.fs URI such as s3://bucket/finray/models)
    model_storage_uri: str | None = Field(None, validation_alias="FINRAY_MODEL_STORAGE_URI")
    cache_ttl_s: float = Field(3600.0, gt=0, le=30 * 86400, validation_alias="FINRAY_CACHE_TTL_S")
    cache_max_entries: int = Field(1024, ge=1, le=1_000_000, validation_alias="FINRAY_CACHE_MAX_ENTRIES")

    # --- serving --------------------------------------------------------------------------
    http_host: str = Field("127.0.0.1", validation_alias="FINRAY_HTTP_HOST")
    http_port: int = Field(8000, ge=1, le=65535, validation_alias="FINRAY_HTTP_PORT")
    # how keyword search cuts text into terms (finray.retrieval.keyword): character 2-grams like the
    # embedded LanceDB full-text index, or Kiwi content morphemes; the default is the one that
    # scored better in bench/advice_quality.py (both are recorded in bench/RESULTS.md)
    keyword_tokenizer: Literal["bigram", "morpheme"] = Field(
        "bigram", validation_alias="FINRAY_KEYWORD_TOKENIZER"
    )

    # --- alerts ---------------------------------------------------------------------------
    slack_webhook_url: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_WEBHOOK_URL")
    )
    alert_dedupe_s: float = Field(600.0, ge=0, validation_alias="ALERT_DEDUPE_S")
    alert_max_per_min: int = Field(10, ge=1, le=1000, validation_alias="ALERT_MAX_PER_MIN")

    # --- accounts and security (finray/auth, serve_apps/security.py) ----------------------
    # Unset AUTH_JWT_SECRET in dev → a random per-install key under FINRAY_HOME; prod requires it.
    auth_jwt_secret: SecretStr | None = Field(None, validation_alias="AUTH_JWT_SECRET")
    auth_issuer: str = Field("finray", min_length=1, validation_alias="AUTH_ISSUER")
    auth_audience: str = Field("finray-api", min_length=1, validation_alias="AUTH_AUDIENCE")
    auth_access_ttl_s: int = Field(900, ge=60, le=3600, validation_alias="AUTH_ACCESS_TTL_S")
    auth_refresh_ttl_s: int = Field(
        14 * 86400, ge=3600, le=90 * 86400, validation_alias="AUTH_REFRESH_TTL_S"
    )
    auth_dev_login: bool = Field(False, validation_alias="AUTH_DEV_LOGIN")
    auth_admin_user_ids: str = Field("", validation_alias="AUTH_ADMIN_USER_IDS")  # U0000001,…
    auth_kakao_links: str = Field("", validation_alias="AUTH_KAKAO_LINKS")  # kakao_id=U…,…
    kakao_client_id: str | None = Field(None, validation_alias="KAKAO_CLIENT_ID")  # REST API key
    kakao_client_secret: SecretStr | None = Field(None, validation_alias="KAKAO_CLIENT_SECRET")
    kakao_redirect_uri: str | None = Field(None, validation_alias="KAKAO_REDIRECT_URI")
    kakao_auth_host: str = Field("https://kauth.kakao.com", validation_alias="KAKAO_AUTH_HOST")
    kakao_api_host: str = Field("https://kapi.kakao.com", validation_alias="KAKAO_API_HOST")
    rate_limit_user_per_min: float = Field(
        60.0, gt=0, le=100_000, validation_alias="RATE_LIMIT_USER_PER_MIN"
    )
    rate_limit_user_burst: int = Field(20, ge=1, le=100_000, validation_alias="RATE_LIMIT_USER_BURST")
    rate_limit_ip_per_min: float = Field(
        120.0, gt=0, le=100_000, validation_alias="RATE_LIMIT_IP_PER_MIN"
    )
    rate_limit_ip_burst: int = Field(60, ge=1, le=100_000, validation_alias="RATE_LIMIT_IP_BURST")
    # How many reverse proxies in front of Serve append to X-Forwarded-For (0 = ignore it).
    trusted_proxy_hops: int = Field(0, ge=0, le=5, validation_alias="TRUSTED_PROXY_HOPS")
    max_request_body_bytes: int = Field(
        65_536, ge=1024, le=10_485_760, validation_alias="MAX_REQUEST_BODY_BYTES"
    )

    @model_validator(mode="after")
    def _backends_have_what_they_need(self) -> Settings:
        if self.store == "mongo" and not self.mongodb_uri:
            raise ValueError("MONGODB_URI: required when FINRAY_STORE=mongo (mongodb+srv://…)")
        if self.embedder == "gemini" and not self.google_api_key:
            raise ValueError("GOOGLE_API_KEY: required when FINRAY_EMBEDDER=gemini")
        if self.llm == "gemini" and not self.google_api_key:
            raise ValueError("GOOGLE_API_KEY: required when FINRAY_LLM=gemini")
        if self.product_source == "live" and not self.finlife_api_key:
            raise ValueError("FINLIFE_API_KEY: required when FINRAY_PRODUCT_SOURCE=live")
        if self.user_db_url and not self.user_db_url.startswith(
            ("sqlite:///", "mysql+pymysql://")
        ):
            raise ValueError(
                "FINRAY_USER_DB_URL: expected sqlite:///<path> or mysql+pymysql://user@host/db, "
                f"got {self.user_db_url.split('://')[0]}://…"
            )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("REDIS_URL: expected redis://host:port/db")
        self._auth_settings_are_safe()
        return self

    def _auth_settings_are_safe(self) -> None:
        """Signing key, admin ids, Kakao links and hosts; prod refuses anything weak or dev-only."""
        import re

        uid = re.compile(r"^U\d{7}$")
        for part in filter(None, (p.strip() for p in self.auth_admin_user_ids.split(","))):
            if not uid.match(part):
                raise ValueError(f"AUTH_ADMIN_USER_IDS: expected comma-separated user ids like U0000001, got {part!r}")
        for part in filter(None, (p.strip() for p in self.auth_kakao_links.split(","))):
            kakao_id, _, user_id = part.partition("=")
            if not (kakao_id.strip().isdigit() and uid.match(user_id.strip())):
                raise ValueError(f"AUTH_KAKAO_LINKS: expected kakao_id=U0000001 pairs, got {part!r}")
        key = self.auth_jwt_secret.get_secret_value() if self.auth_jwt_secret else None
        if key is not None and len(key.encode()) < 32:
            raise ValueError("AUTH_JWT_SECRET: too short; use at least 32 random bytes (openssl rand -base64 48)")
        if self.kakao_client_id and not self.kakao_redirect_uri:
            raise ValueError("KAKAO_REDIRECT_URI: required when KAKAO_CLIENT_ID is set")
        if self.env != "prod":
            return
        # A *missing* key is refused where it is needed — the API's start-up (finray.auth.keys) —
        # so data-job pods need not hold the signing key; a weak one is refused everywhere.
        placeholder = key is not None and any(
            w in key.lower() for w in ("change", "secret", "example", "default", "password", "finray")
        )
        if key is not None and (placeholder or len(set(key)) < 12):
            raise ValueError("AUTH_JWT_SECRET: looks like a default or low-entropy value; use openssl rand -base64 48")
        if self.auth_dev_login:
            raise ValueError("AUTH_DEV_LOGIN: must be false when FINRAY_ENV=prod")
        for var, url in (("KAKAO_AUTH_HOST", self.kakao_auth_host), ("KAKAO_API_HOST", self.kakao_api_host),
                         ("KAKAO_REDIRECT_URI", self.kakao_redirect_uri or "https://")):
            if not url.startswith("https://"):
                raise ValueError(f"{var}: must be https:// when FINRAY_ENV=prod")

    # --- derived paths (embedded defaults) ------------------------------------------------
    @cached_property
    def lance_dir(self) -> Path:
        return self.home / "lance"

    @cached_property
    def resolved_user_db_url(self) -> str:
        """The user DB URL; the embedded default is a SQLite file of demo users."""
        return self.user_db_url or f"sqlite:///{self.home / 'users.sqlite'}"

    def backends(self) -> dict[str, str]:
        """Active backend per part, for ``GET /`` and logs (no secrets)."""
        db = self.resolved_user_db_url.split("://")[0]
        return {
            "store": self.store,
            "user_db": "sqlite" if db.startswith("sqlite") else "mysql",
            "cache": "redis" if self.redis_url else "in-process",
            "embedder": self.embedder,
            "llm": self.llm,
            "product_source": self.product_source,
        }


def _one_line(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()) if p != "__root__")
    msg = first.get("msg", "invalid").removeprefix("Value error, ")
    if first.get("type") == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        return f"{loc}: expected {expected}, got {first.get('input')!r}"
    return f"{loc}: {msg}" if loc else msg


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and ``.env``); raise :class:`SettingsError` on one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise SettingsError(_one_line(err)) from None
