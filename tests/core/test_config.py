import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from app.config import (
    DEVELOPMENT_API_KEY_PEPPER,
    DEVELOPMENT_SECRET_KEY,
    DatabasePool,
    Environment,
    LogFormat,
    Settings,
)
from app.core.ratelimit import build_policies
from tests.support.settings import PRODUCTION_SECRETS, TEST_ENCRYPTION_KEY

PRODUCTION: dict[str, Any] = PRODUCTION_SECRETS
STRONG_SECRET: str = PRODUCTION["secret_key"]


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_defaults_run_on_embedded_sqlite_in_development() -> None:
    defaults = settings()
    assert defaults.environment is Environment.DEVELOPMENT
    assert defaults.database_url.startswith("sqlite+aiosqlite:///./var/")
    assert (defaults.database_pool_size, defaults.database_max_overflow) == (20, 10)
    assert defaults.database_pool_pre_ping is True
    assert defaults.database_pool_recycle == 3600
    assert defaults.effective_migrate_on_start is True
    assert defaults.effective_log_format is LogFormat.CONSOLE


@pytest.mark.parametrize("secret", [None, DEVELOPMENT_SECRET_KEY, "changeme", "short-but-not-known"])
def test_production_refuses_a_missing_default_or_weak_secret_and_names_the_setting(secret: str | None) -> None:
    values: dict[str, Any] = {"environment": "production"}
    if secret is not None:
        values["secret_key"] = secret
    with pytest.raises(ValidationError, match="FORGE_SECRET_KEY"):
        settings(**values)


def test_production_starts_with_a_real_secret_and_production_defaults() -> None:
    production = settings(**PRODUCTION)
    assert production.effective_migrate_on_start is False
    assert production.effective_log_format is LogFormat.JSON
    assert production.effective_hsts is True


@pytest.mark.parametrize("pepper", [None, DEVELOPMENT_API_KEY_PEPPER, "short", STRONG_SECRET])
def test_production_refuses_a_missing_default_short_or_reused_api_key_pepper(pepper: str | None) -> None:
    values: dict[str, Any] = {"environment": "production", "secret_key": STRONG_SECRET}
    if pepper is not None:
        values["api_key_pepper"] = pepper
    with pytest.raises(ValidationError, match="FORGE_API_KEY_PEPPER"):
        settings(**values)


# Long enough for every length rule, and guessed early all the same: what the attacker's probe found accepted.
GUESSABLE_SECRETS = [
    pytest.param("a" * 44, id="one-character"),
    pytest.param("abc123" * 8, id="short-pattern"),
    pytest.param("dragon" + "1234567890" * 3, id="word-and-digits"),
    pytest.param("P@ssw0rd2024" * 3, id="leet-word-repeated"),
    pytest.param("qwertyuiopasdfghjklzxcvbnm1234567890", id="keyboard-walk"),
    pytest.param("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", id="zero-bytes-key"),
]


@pytest.mark.parametrize("secret", GUESSABLE_SECRETS)
@pytest.mark.parametrize(
    ("setting", "variable"),
    [
        ("secret_key", "FORGE_SECRET_KEY"),
        ("api_key_pepper", "FORGE_API_KEY_PEPPER"),
        ("encryption_keys", "FORGE_ENCRYPTION_KEYS"),
        ("blind_index_key", "FORGE_BLIND_INDEX_KEY"),
        ("metrics_token", "FORGE_METRICS_TOKEN"),
    ],
)
def test_production_refuses_a_guessable_secret_in_every_secret_setting_and_names_it(
    setting: str, variable: str, secret: str
) -> None:
    with pytest.raises(ValidationError, match=f"{variable} is easy to guess"):
        settings(**{**PRODUCTION, setting: secret})


def test_production_refuses_a_guessable_older_encryption_key_too() -> None:
    with pytest.raises(ValidationError, match="FORGE_ENCRYPTION_KEYS is easy to guess"):
        settings(**{**PRODUCTION, "encryption_keys": f"{TEST_ENCRYPTION_KEY},{'b' * 43}="})


def test_outside_production_a_guessable_secret_is_accepted() -> None:
    assert settings(secret_key="a" * 44).secret_key.get_secret_value() == "a" * 44


def test_production_refuses_metrics_open_on_the_app_port_and_names_the_settings() -> None:
    with pytest.raises(ValidationError, match=r"FORGE_METRICS_TOKEN.*FORGE_METRICS_PORT.*FORGE_METRICS_ENABLED"):
        settings(**{**PRODUCTION, "metrics_token": None})
    # Any one of the three ways out starts.
    assert settings(**{**PRODUCTION, "metrics_token": None, "metrics_port": 9464}).metrics_port == 9464
    assert settings(**{**PRODUCTION, "metrics_token": None, "metrics_enabled": False}).metrics_enabled is False
    assert settings(**PRODUCTION).metrics_token is not None
    assert settings(environment="development").metrics_token is None  # outside production, open as before


def test_the_metrics_port_cannot_be_the_app_port() -> None:
    with pytest.raises(ValidationError, match="FORGE_METRICS_PORT must differ from FORGE_PORT"):
        settings(port=8000, metrics_port=8000)


def test_interactive_docs_are_off_in_production_unless_turned_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings().docs_enabled is True
    assert settings(environment="test").docs_enabled is True
    assert settings(**PRODUCTION).docs_enabled is False
    assert settings(**PRODUCTION, docs_enabled=True).docs_enabled is True
    monkeypatch.setenv("FORGE_ENVIRONMENT", "production")
    monkeypatch.setenv("FORGE_DOCS_ENABLED", "true")
    assert settings(**{k: v for k, v in PRODUCTION.items() if k != "environment"}).docs_enabled is True
    monkeypatch.setenv("FORGE_DOCS_ENABLED", "false")
    assert settings(environment="development").docs_enabled is False


def test_production_refuses_a_blind_index_key_that_is_also_an_encryption_key() -> None:
    with pytest.raises(ValidationError, match="FORGE_BLIND_INDEX_KEY"):
        settings(**{**PRODUCTION, "blind_index_key": TEST_ENCRYPTION_KEY})


def test_access_tokens_cannot_be_configured_to_live_days() -> None:
    with pytest.raises(ValidationError, match="access_token_ttl_seconds"):
        settings(access_token_ttl_seconds=30 * 24 * 3600)


def test_production_refuses_wildcard_cors() -> None:
    with pytest.raises(ValidationError, match="FORGE_CORS_ORIGINS"):
        settings(**PRODUCTION, cors_origins="*")


def test_auth_cookies_refuse_wildcard_cors_anywhere() -> None:
    """The refresh cookie's CORS credentials would otherwise be granted to any site, in development too."""
    with pytest.raises(ValidationError, match="FORGE_AUTH_COOKIES"):
        settings(auth_cookies=True, cors_origins="*")
    assert settings(auth_cookies=True, cors_origins="https://app.example").auth_cookies


def test_session_lifetimes_default_to_two_weeks_idle_and_ninety_days() -> None:
    defaults = settings()
    assert (defaults.session_idle_days, defaults.session_max_days) == (14, 90)
    assert defaults.session_refresh_grace_seconds == 2
    assert defaults.auth_cookies is False
    with pytest.raises(ValidationError, match="session_refresh_grace_seconds"):
        settings(session_refresh_grace_seconds=600)


def test_account_defaults_a_local_web_app_30_minute_resets_and_no_verified_address_required() -> None:
    defaults = settings()
    assert defaults.frontend_url == "http://localhost:3000"
    assert (defaults.password_reset_token_minutes, defaults.email_verification_token_hours) == (30, 72)
    assert defaults.require_verified_email is False


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("https://app.example.com/", "https://app.example.com"),
        ("http://localhost:5173/accounts/", "http://localhost:5173/accounts"),
    ],
)
def test_the_frontend_url_is_kept_without_its_trailing_slash(given: str, kept: str) -> None:
    assert settings(frontend_url=given).frontend_url == kept


@pytest.mark.parametrize(
    "url",
    [
        "app.example.com",
        "ftp://app.example.com",
        "https://",
        "https://app.example.com/?next=/",
        "https://app.example.com/#top",
        "https://user:pw@app.example.com",
        "https://app.example.com/a b",
    ],
)
def test_a_frontend_url_that_is_not_a_web_app_s_address_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="frontend_url"):
        settings(frontend_url=url)


def test_production_needs_an_https_frontend_url_and_names_the_setting() -> None:
    for url in (None, "http://app.example.com"):
        values = {k: v for k, v in PRODUCTION.items() if k != "frontend_url"}
        with pytest.raises(ValidationError, match="FORGE_FRONTEND_URL"):
            settings(**values, **({"frontend_url": url} if url else {}))
    assert settings(**PRODUCTION).frontend_url == "https://app.forge.test"


@pytest.mark.parametrize("variable", ["password_reset", "password_reset_account", "email_verification"])
def test_a_malformed_account_rate_limit_stops_the_app_naming_the_setting(variable: str) -> None:
    with pytest.raises(ValueError, match=f"FORGE_RATE_LIMIT_{variable.upper()}"):
        build_policies(settings(**{f"rate_limit_{variable}": "often"}))


def test_settings_are_read_from_forge_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGE_ENVIRONMENT", "test")
    monkeypatch.setenv("FORGE_DATABASE_POOL_SIZE", "7")
    monkeypatch.setenv("FORGE_CORS_ORIGINS", "https://a.example, https://b.example")
    from_env = settings()
    assert from_env.environment is Environment.TEST
    assert from_env.database_pool_size == 7
    assert from_env.cors_origins == ["https://a.example", "https://b.example"]


def test_secrets_never_appear_in_repr_or_str() -> None:
    secret = "a-very-secret-signing-key-that-is-long-enough"
    configured = settings(secret_key=SecretStr(secret), database_url="postgresql+asyncpg://app:pa55word@db/app")
    for text in (repr(configured), str(configured), repr(configured.model_dump())):
        assert secret not in text
        assert "pa55word" not in text
    assert configured.database_url_masked == "postgresql+asyncpg://app:***@db/app"
    in_query = settings(database_url="postgresql+asyncpg://app@db/app?password=pa55word&ssl=require")
    assert "pa55word" not in in_query.database_url_masked
    assert "pa55word" not in repr(in_query.model_dump())


def test_sqlite_path_is_derived_from_the_url() -> None:
    assert str(settings(database_url="sqlite+aiosqlite:///./var/x.db").sqlite_path) == "var/x.db"
    assert settings(database_url="sqlite+aiosqlite:///:memory:").sqlite_path is None
    assert settings(database_url="postgresql+asyncpg://db/app").sqlite_path is None


def test_the_database_pool_is_null_on_aws_lambda_unless_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings().effective_database_pool is DatabasePool.QUEUE
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "forgeapi")  # set by Lambda, unprefixed
    on_lambda = settings()
    assert on_lambda.on_aws_lambda
    assert on_lambda.effective_database_pool is DatabasePool.NULL
    assert settings(database_pool="queue").effective_database_pool is DatabasePool.QUEUE
    with pytest.raises(ValidationError, match="database_pool"):
        settings(database_pool="static")


def test_jobs_run_in_the_server_but_on_aws_lambda_unless_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings().effective_jobs_run_in_server
    assert not settings(jobs_run_in_server=False).effective_jobs_run_in_server
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "forgeapi")
    assert not settings().effective_jobs_run_in_server
    assert settings(jobs_run_in_server=True).effective_jobs_run_in_server


def test_serve_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (settings().host, settings().port, settings().workers) == ("127.0.0.1", 8000, 1)
    monkeypatch.setenv("FORGE_HOST", "10.0.0.5")
    monkeypatch.setenv("FORGE_PORT", "8080")
    monkeypatch.setenv("FORGE_WORKERS", "4")
    assert (settings().host, settings().port, settings().workers) == ("10.0.0.5", 8080, 4)
    with pytest.raises(ValidationError, match="port"):
        settings(port=70000)


def test_otel_variables_in_env_file_reach_only_the_protocol_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As docs/configuration.md says: the SDK reads OTEL_* from the process environment only; a .env line sets
    # nothing there. Only the protocol, which start-up validates itself, is read from .env too.
    for name in ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("OTEL_EXPORTER_OTLP_PROTOCOL=grpc\nOTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4317\n")
    loaded = Settings(_env_file=env_file)
    assert loaded.otel_traces_protocol == "grpc"
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in os.environ
