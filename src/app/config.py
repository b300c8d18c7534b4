"""Settings: the only module that reads the environment.

Every setting is read from a `FORGE_`-prefixed environment variable or from `.env`. Secrets are `SecretStr`, so
they print as `**********` in every repr, log line and traceback.
"""

import ipaddress
import json
import re
from email.utils import parseaddr
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    AnyHttpUrl,
    BeforeValidator,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from zxcvbn import zxcvbn

from app import DISTRIBUTION, TITLE
from app.oidc_settings import OidcProvider, OidcProviderSettings, ProviderName, WebBaseUrl, parse_oidc_providers

__all__ = [
    "API_PREFIX",
    "DEVELOPMENT_API_KEY_PEPPER",
    "DEVELOPMENT_SECRET_KEY",
    "DatabasePool",
    "Environment",
    "InsecureSettingsError",
    "LogFormat",
    "MailBackendName",
    "OtelExporter",
    "OtlpProtocol",
    "RateLimitBackend",
    "Settings",
    "SmtpTls",
    "SourceName",
    "get_settings",
]

# Where the versioned API is mounted; here so that every layer (the client configuration too) can name it.
API_PREFIX = "/api/v1"
_FEATURE_FLAG_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_JSON_OBJECT_EXAMPLES = {
    "aggregate_sources": '{"name": "https://..."}',
    "client_feature_flags": '{"new_checkout": true}',
}

# Public by design: the development default must never sign tokens in production.
DEVELOPMENT_SECRET_KEY = "forgeapi-development-secret-key-do-not-use-in-production"  # noqa: S105
DEVELOPMENT_API_KEY_PEPPER = "forgeapi-development-api-key-pepper-do-not-use-in-production"
_KNOWN_WEAK_SECRETS = frozenset(
    {
        DEVELOPMENT_SECRET_KEY,
        DEVELOPMENT_API_KEY_PEPPER,
        "",
        "secret",
        "changeme",
        "change-me",
        "please-change-me",
        "your-secret-key",
    }
)
# An HMAC key should be at least as long as the hash's output (RFC 7518 §3.2; PyJWT warns below it).
_MIN_SECRET_LENGTH = {"HS256": 32, "HS384": 48, "HS512": 64}
# Length says little of strength (44 x "a" is long). zxcvbn estimates the guesses of an attacker who tries
# repeats, sequences, keyboard walks and dictionary words with digits first: a secret needs 10**24 (~80 bits).
# A random key of the shortest accepted length (32 base62 characters) scores about 10**31; "a" * 44 scores 10**3.
_MIN_SECRET_GUESSES_LOG10 = 24
# zxcvbn's matching grows with the square of the length (0.1 s at 128 characters, 5 s at 512): a longer secret
# is judged by its first 128 characters.
_STRENGTH_CHECKED_CHARS = 128
_HOW_TO_GENERATE = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'


def _ip_network(value: str) -> str:
    ipaddress.ip_network(value, strict=False)  # ValueError names what is wrong with it
    return value


def _origin(value: str) -> str:
    if value != "*" and not _ORIGIN.fullmatch(value):
        msg = f"{value!r} is not an origin: scheme://host[:port], no path (https://app.example.com)"
        raise ValueError(msg)
    return value


def _database_url(value: str) -> str:
    try:
        url = make_url(value)
    except ArgumentError:
        url = None
    if url is None or url.drivername not in _DATABASE_DRIVERS:
        msg = "expected sqlite+aiosqlite:///path/to.db or postgresql+asyncpg://user:password@host:5432/database"
        raise ValueError(msg)
    return value


def _redis_url(value: SecretStr) -> SecretStr:
    if urlsplit(value.get_secret_value()).scheme not in {"redis", "rediss", "unix"}:
        msg = "expected redis://[:password@]host:6379/0, rediss://... (TLS) or unix:///path/to/socket"
        raise ValueError(msg)
    return value


def _mail_address(value: str) -> str:
    _, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    if not local or not domain or any(char in value for char in "\r\n"):
        msg = f"{value!r} is not a mail address: noreply@example.com, or with a name: Example <noreply@example.com>"
        raise ValueError(msg)
    return value


def _frontend_url(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
        or any(char.isspace() for char in value)
    ):
        msg = (
            f"{value!r} is not the address of a web app: http(s)://host[:port][/path], with no query, fragment or "
            "credentials (https://app.example.com)"
        )
        raise ValueError(msg)
    return value.rstrip("/")


_ORIGIN = re.compile(r"https?://[^/?#\s]+")
_DATABASE_DRIVERS = frozenset({"sqlite+aiosqlite", "postgresql+asyncpg"})
IpNetwork = Annotated[str, AfterValidator(_ip_network)]
Origin = Annotated[str, AfterValidator(_origin)]
FrontendUrl = Annotated[str, AfterValidator(_frontend_url)]
MailAddress = Annotated[str, AfterValidator(_mail_address)]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
RedisUrl = Annotated[SecretStr, AfterValidator(_redis_url)]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
]


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class DatabasePool(StrEnum):
    QUEUE = "queue"  # keep connections open between requests (servers)
    NULL = "null"  # open a connection per checkout and close it after (AWS Lambda, external poolers)


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class AsgiServer(StrEnum):
    GRANIAN = "granian"  # the default: measured faster on this service (docs/performance.md)
    UVICORN = "uvicorn"


class MailBackendName(StrEnum):
    FILE = "file"  # an .eml file per mail under FORGE_MAIL_DIR: the embedded default, read with no mail server
    CONSOLE = "console"  # written to stderr
    SMTP = "smtp"


class SmtpTls(StrEnum):
    NONE = "none"  # plain text: a relay on a private network (Mailpit in the compose stack)
    STARTTLS = "starttls"  # required, not opportunistic: no STARTTLS offered is a failed attempt
    TLS = "tls"  # implicit TLS from the first byte (port 465)


_SMTP_PORTS = {SmtpTls.NONE: 25, SmtpTls.STARTTLS: 587, SmtpTls.TLS: 465}
_DEVELOPMENT_MAIL_DOMAIN = "localhost"
_DEVELOPMENT_FRONTEND_URL = "http://localhost:3000"


class RateLimitBackend(StrEnum):
    MEMORY = "memory"
    REDIS = "redis"


type ForwardedHeader = Literal["x-forwarded-for", "forwarded"]
type OtelExporter = Literal["none", "console", "otlp"]
# The OTLP transports the Python SDK ships (no http/json exporter exists for Python).
type OtlpProtocol = Literal["http/protobuf", "grpc"]
# An aggregation source's name: it appears as a JSON key in responses and in problem details, so it stays plain.
type SourceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class InsecureSettingsError(ValueError):
    """A production setting is missing or insecure; the message names the environment variable."""


def _refuse_guessable(secrets: list[tuple[str, str]]) -> None:
    """Raise for the first (variable, value) whose value a pattern-aware attacker would guess early."""
    for variable, value in secrets:
        checked = value.strip()[:_STRENGTH_CHECKED_CHARS]
        if zxcvbn(checked, max_length=_STRENGTH_CHECKED_CHARS)["guesses_log10"] < _MIN_SECRET_GUESSES_LOG10:
            msg = (
                f"{variable} is easy to guess (a repeated character or pattern, a sequence, or words and digits); "
                f"production refuses to start with it ({_HOW_TO_GENERATE})"
            )
            raise InsecureSettingsError(msg)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FORGE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        # A refused value is not echoed in the error: it may hold a secret (FORGE_OIDC_PROVIDERS' client secrets, a
        # database URL's password); the message names the variable and what is wrong with it.
        hide_input_in_errors=True,
    )

    environment: Environment = Environment.DEVELOPMENT

    # Database. SQLite (embedded, the default) or PostgreSQL (postgresql+asyncpg://...).
    # repr=False: a PostgreSQL URL may carry a password; `database_url_masked` is the printable form.
    database_url: DatabaseUrl = Field(default="sqlite+aiosqlite:///./var/forgeapi.db", repr=False)
    # None: `null` on AWS Lambda (a frozen container must not hold idle connections), `queue` elsewhere.
    database_pool: DatabasePool | None = None
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_pre_ping: bool = True
    database_pool_recycle: int = Field(default=3600, ge=-1, description="seconds; -1 disables recycling")
    database_pool_timeout: float = Field(default=30.0, gt=0)
    database_connect_timeout: float = Field(default=5.0, gt=0)
    database_echo: bool = False
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    # None: upgrade in development, check only elsewhere (see `forge serve`).
    migrate_on_start: bool | None = None

    # `forge serve` defaults (its --host, --port, --workers and --server options win). The container sets
    # FORGE_HOST=0.0.0.0.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    server: AsgiServer = AsgiServer.GRANIAN

    # AWS Lambda sets this (unprefixed) in every function's environment; only whether it is set is used.
    aws_lambda_function_name: str | None = Field(default=None, validation_alias="AWS_LAMBDA_FUNCTION_NAME")

    # Security.
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    # HMAC only: the key is a shared secret. Asymmetric algorithms would need a key pair, not FORGE_SECRET_KEY.
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    # The service's name by default: tokens of one service are refused by another that shares its key.
    jwt_issuer: str = DISTRIBUTION
    jwt_audience: str = DISTRIBUTION
    # HMAC key for stored API-key digests. Changing it invalidates every API key.
    api_key_pepper: SecretStr = SecretStr(DEVELOPMENT_API_KEY_PEPPER)
    # Field-level encryption: comma-separated urlsafe-base64 32-byte keys, newest first (docs/security.md), and
    # the key of the blind indexes (never rotated with them). Generated under ./var/ in development when unset.
    encryption_keys: SecretStr | None = None
    blind_index_key: SecretStr | None = None
    # Access tokens live minutes (an hour at most); each names its session and dies with it.
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=30, le=3600)
    # Sessions (docs/security.md#sessions): one per login, kept alive by refreshing. A session ends after
    # `session_idle_days` without a refresh, or `session_max_days` after its login, whichever comes first (both
    # checked whenever it is used, so shortening them ends longer sessions at once). A refresh token presented again
    # within `session_refresh_grace_seconds` of its rotation (a client retrying after a lost answer) gets a new pair
    # instead of counting as reuse; 0 turns the grace off.
    session_idle_days: float = Field(default=14, gt=0, le=3650)
    session_max_days: float = Field(default=90, gt=0, le=3650)
    session_refresh_grace_seconds: float = Field(default=2, ge=0, le=60)
    # Two-factor logins (docs/security.md#two-factor-authentication-totp): the password's answer is an MFA token,
    # good this long for completing the login with a code (a few minutes: enough to open an authenticator app).
    mfa_token_ttl_seconds: int = Field(default=300, ge=30, le=900)
    # Browser clients: the refresh token also as an HttpOnly cookie on the auth paths, with a CSRF token
    # (docs/security.md#browser-clients-cookies-and-csrf). The domain, when set, is the CSRF cookie's, so that a
    # single-page app on a sibling host (app.example.com beside api.example.com) can read it.
    auth_cookies: bool = False
    auth_cookie_domain: str | None = None
    # The web app that users read their mail's links in (`{frontend_url}/reset-password?token=...`,
    # `/verify-email?token=...`): its base URL, without a trailing slash. Production needs an https one.
    frontend_url: FrontendUrl = _DEVELOPMENT_FRONTEND_URL
    # Accounts (docs/security.md#password-reset): a reset link's and a verification link's lifetimes; whether placing
    # orders and issuing API keys need a verified e-mail address (403 email-not-verified otherwise).
    password_reset_token_minutes: int = Field(default=30, ge=5, le=24 * 60)
    email_verification_token_hours: int = Field(default=72, ge=1, le=30 * 24)
    require_verified_email: bool = False
    # Sign in with OpenID Connect providers and GitHub (docs/oidc.md): a JSON object of name -> provider. Each
    # request to a provider waits at most the timeout. The callback URL registered at each provider is
    # `{base}/api/v1/auth/oidc/{name}/callback`, where base is oidc_redirect_base_url, or else the request's own
    # scheme and host.
    oidc_providers: Annotated[
        dict[ProviderName, OidcProviderSettings], NoDecode, BeforeValidator(parse_oidc_providers)
    ] = Field(default_factory=dict)
    oidc_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    oidc_redirect_base_url: WebBaseUrl | None = None
    # Argon2id cost; the defaults are OWASP's minimum (m=19 MiB, t=2, p=1).
    password_hash_memory_kib: int = Field(default=19_456, ge=8)
    password_hash_iterations: int = Field(default=2, ge=1)
    password_hash_parallelism: int = Field(default=1, ge=1)

    # Serving (`forge serve`). On SIGTERM, in-flight requests get this long to finish before they are cancelled.
    shutdown_timeout_seconds: int = Field(default=30, ge=1)
    # uvicorn with --workers: a worker that does not answer the supervisor's ping within this long (including while
    # it imports the app at start-up, which takes seconds without a bytecode cache) is killed and replaced.
    worker_healthcheck_timeout_seconds: int = Field(default=30, ge=1)
    # How long a connection may wait for a request's headers: granian cuts a client that sends them too slowly
    # (slowloris) and an idle keep-alive connection after this; uvicorn only the idle keep-alive connection.
    http_header_timeout_seconds: int = Field(default=15, ge=1, le=600)

    # HTTP. The interactive docs (/docs, /redoc, /openapi.json) map every route for whoever asks: on by default
    # everywhere but production, where FORGE_DOCS_ENABLED=true turns them on deliberately.
    docs_enabled: bool = Field(default_factory=lambda data: data.get("environment") is not Environment.PRODUCTION)
    # The admin console at /admin (docs/admin.md): on by default everywhere but production, where
    # FORGE_ADMIN_ENABLED=true turns it on deliberately. A console sign-in is a session of its own (listed and revoked
    # with the user's others) that ends after `admin_session_idle_minutes` without a page, or
    # `admin_session_max_hours` after the sign-in, whichever comes first (and sooner if the API's session lifetimes
    # are shorter).
    admin_enabled: bool = Field(default_factory=lambda data: data.get("environment") is not Environment.PRODUCTION)
    admin_session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    admin_session_max_hours: int = Field(default=12, ge=1, le=7 * 24)
    max_body_bytes: int = Field(default=1_048_576, ge=0)
    gzip_minimum_size: int = Field(default=1000, ge=0)
    cors_origins: Annotated[list[Origin], NoDecode] = Field(default_factory=list)
    hsts_enabled: bool | None = None

    # Idempotency-Key: how long an attempt holds its key before a retry may take over (longer than any request).
    idempotency_lease_seconds: float = Field(default=60.0, gt=0)
    # Edge caching of public reads (docs/caching.md): seconds browsers (max-age) and shared caches such as CDNs
    # (s-maxage) may reuse a response, and may serve it stale while revalidating (stale-while-revalidate).
    edge_cache_max_age: int = Field(default=0, ge=0, le=31_536_000)
    edge_cache_s_maxage: int = Field(default=60, ge=0, le=31_536_000)
    edge_cache_stale_while_revalidate: int = Field(default=30, ge=0, le=31_536_000)
    # The response cache of public reads (docs/caching.md#the-response-cache): on by default, in this process; an
    # entry lives at most FORGE_CACHE_TTL_SECONDS, and the whole store at most so many entries and bytes. Writes
    # invalidate every instance: at once where they ran, by Redis pub/sub on FORGE_CACHE_CHANNEL elsewhere, and
    # through the stored versions, read every FORGE_CACHE_SYNC_SECONDS, should a message be lost (or without Redis).
    cache_enabled: bool = True
    cache_ttl_seconds: float = Field(default=60.0, gt=0, le=86_400)
    cache_max_entries: int = Field(default=10_000, ge=1, le=10_000_000)
    cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    cache_sync_seconds: float = Field(default=1.0, gt=0, le=60)
    # Redis pub/sub channels ignore the database number: deployments (or test runs) sharing one Redis need their own.
    cache_channel: str = Field(default="forge:cache", min_length=1)
    # Public feature flags for clients, served by GET /api/v1/config: JSON, e.g. {"new_checkout": true}.
    client_feature_flags: Annotated[dict[str, bool], NoDecode] = Field(default_factory=dict)

    # Background jobs (docs/jobs.md): run a job worker inside `forge serve` (turn off when `forge worker` processes
    # run them; None: on, but on AWS Lambda, whose frozen containers run nothing between invocations), and how
    # many jobs each process runs at once; how often an idle worker polls (PostgreSQL also wakes it by
    # LISTEN/NOTIFY), and how long a stopping worker lets running jobs finish before releasing them.
    jobs_run_in_server: bool | None = None
    jobs_concurrency: int = Field(default=10, ge=1, le=1000)
    jobs_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    jobs_shutdown_seconds: float = Field(default=10.0, ge=0, le=3600)
    # Succeeded and cancelled jobs are deleted this many days after they finished; dead jobs stay until handled.
    jobs_retention_days: float = Field(default=7.0, gt=0, le=3650)
    # Domain events (docs/events.md) are deleted this many days after they occurred, by a built-in hourly job;
    # 0 keeps them forever.
    events_retention_days: float = Field(default=30.0, ge=0, le=3650)
    # `forge worker` serves its own /metrics, /healthz and /readyz on this port (none when unset); a port of its
    # own, like FORGE_METRICS_PORT, meant for the scraper's and the orchestrator's network only.
    jobs_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    # Webhooks (docs/webhooks.md): deliveries to loopback, private, link-local, multicast, reserved and cloud-metadata
    # addresses are refused unless this is true (tests, local development); each attempt's deadline, connect to
    # response read, in seconds (the delivery job's own timeout is 60 s).
    webhook_allow_private_networks: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    # Finished deliveries (succeeded, or failed for good) and their attempts are deleted this many days after they
    # finished, by a built-in hourly job; 0 keeps them until their endpoint is deleted.
    webhook_delivery_retention_days: float = Field(default=30.0, ge=0, le=3650)
    # Mail (docs/mail.md), sent by jobs: an .eml file per mail under mail_dir (the default), stderr, or SMTP, which
    # production needs unless mail_allow_dev_backend_in_production says otherwise. The project's own templates
    # (mail_templates_dir) win over the app's, name by name.
    mail_backend: MailBackendName = MailBackendName.FILE
    mail_dir: Path = Path("var/mail")
    mail_from: MailAddress = f"{TITLE} <noreply@{_DEVELOPMENT_MAIL_DOMAIN}>"
    mail_templates_dir: Path | None = None
    mail_allow_dev_backend_in_production: bool = False
    # SMTP (aiosmtplib): the port defaults by TLS mode (25, 587, 465); a CA bundle (PEM) verifies a relay whose
    # certificate a private CA signed, instead of the system's CAs. Each SMTP step waits at most the timeout.
    smtp_host: str = "localhost"
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_tls: SmtpTls = SmtpTls.STARTTLS
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    smtp_ca_file: Path | None = None

    # Redis: shared state (the rate limiter) for several workers or hosts. Off when unset.
    redis_url: RedisUrl | None = None
    redis_timeout_seconds: float = Field(default=0.25, gt=0)

    # Outbound HTTP: the one shared client's pool and per-operation timeouts (seconds).
    http_max_connections: int = Field(default=100, ge=1)
    http_max_keepalive: int = Field(default=20, ge=0)
    http_keepalive_expiry: float = Field(default=5.0, ge=0)
    http_connect_timeout: float = Field(default=3.0, gt=0)
    http_read_timeout: float = Field(default=10.0, gt=0)
    http_write_timeout: float = Field(default=10.0, gt=0)
    http_pool_timeout: float = Field(default=3.0, gt=0)

    # Aggregation (GET /api/v1/aggregate): an allowlist of name -> http(s) URL, as a JSON object. Clients name no
    # URL; they get every source or an error. The timeout bounds the whole fan-out, the byte cap each body.
    aggregate_sources: Annotated[dict[SourceName, AnyHttpUrl], NoDecode] = Field(default_factory=dict, repr=False)
    aggregate_timeout: float = Field(default=5.0, gt=0, le=60)
    aggregate_max_bytes: int = Field(default=1_048_576, ge=1)

    # Rate limiting (docs/rate-limiting.md). Limits: "N/unit", several joined by ";".
    rate_limit_enabled: bool = True
    rate_limit_backend: RateLimitBackend | None = None
    rate_limit_default: str = "100/minute"
    rate_limit_login: str = "10/minute;100/hour"
    rate_limit_login_account: str = "5/minute;30/hour"
    rate_limit_register: str = "5/minute;30/hour"
    # Password resets asked for and confirmed, per client address; asked for, per address asked about (whether or
    # not an account has it). Verification mail a signed-in user has sent (again, or to a new address), per user.
    rate_limit_password_reset: str = "5/minute;30/hour"  # noqa: S105 - a rate limit, not a password
    rate_limit_password_reset_account: str = "3/hour;10/day"  # noqa: S105 - a rate limit, not a password
    rate_limit_email_verification: str = "3/hour;10/day"
    # Failed authentications (bad API key, bad or expired bearer token) per client address.
    rate_limit_auth_failures: str = "30/minute;300/hour"
    # Two-factor codes: attempts per MFA token (every attempt), and wrong codes per account, wherever they are
    # entered (completing a login, disabling, new recovery codes, confirming an enrolment).
    rate_limit_mfa: str = "5/5minutes"
    rate_limit_mfa_account: str = "10/hour;50/day"
    rate_limit_fail_open: bool = True
    rate_limit_max_keys: int = Field(default=100_000, ge=100)
    rate_limit_key_prefix: str = "forge:rl:"
    trusted_proxies: Annotated[list[IpNetwork], NoDecode] = Field(default_factory=list)
    # Which header the trusted proxies write. Only one is read: a client could send the other one, and most
    # proxies pass a header they do not write through untouched.
    forwarded_header: ForwardedHeader = Field(default="x-forwarded-for")

    # Dynamic endpoints (docs/dynamic-endpoints.md): the most specs, and how often each instance compares its
    # registry's version with the database's (without Redis; with Redis, a message triggers the check and this
    # polling is a 5-second fallback). 0 turns cross-instance synchronisation off (one instance).
    dynamic_endpoints_max_specs: int = Field(default=1000, ge=1, le=10_000)
    dynamic_endpoints_sync_seconds: float = Field(default=0.5, ge=0, le=60)
    # Redis pub/sub channels ignore the database number: deployments (or test runs) sharing one Redis need their own.
    dynamic_endpoints_channel: str = Field(default="forge:endpoints", min_length=1)

    # The MCP server (docs/mcp.md): the API's operations as tools for AI agents, at /mcp and by `forge mcp`. On by
    # default everywhere but production, like the docs: serving agents there is a decision. Admin operations are
    # left out unless exposed deliberately; so are the operations tagged with one of `mcp_excluded_tags`.
    mcp_enabled: bool = Field(default_factory=lambda data: data.get("environment") is not Environment.PRODUCTION)
    mcp_expose_admin: bool = False
    mcp_excluded_tags: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["auth", "health", "sessions", "mfa", "api-keys"]
    )

    # Tracing (docs/observability.md): none | console | otlp; the OTEL_* variables configure the rest.
    otel_exporter: OtelExporter = "none"
    # The standard OTel variables, read here (not by the SDK) so that a wrong value fails at start-up.
    # (The pydantic mypy plugin flags every AliasChoices field as a required dynamic alias; these have defaults.)
    otel_traces_protocol: OtlpProtocol = Field(  # type: ignore[pydantic-alias]
        default="http/protobuf",
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", "otel_traces_protocol"
        ),
    )
    otel_metrics_protocol: OtlpProtocol = Field(  # type: ignore[pydantic-alias]
        default="http/protobuf",
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", "otel_metrics_protocol"
        ),
    )
    # FastAPI's spans for dependency resolution, the endpoint and serialisation under each request's span.
    otel_operation_spans: bool = False
    # Metrics through the same exporter as the spans (RED per route, pool, rate limiting), besides /metrics.
    otel_metrics_enabled: bool = True

    # Metrics (Prometheus text on GET /metrics). With a token, scrapers must send `Authorization: Bearer <token>`.
    # With a port, `forge serve` listens on it too and /metrics answers there only (a port left unpublished).
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Where the workers of one server keep their counts, so that a scrape reports them all. `forge serve` makes it
    # ready at each start (a fresh directory when unset); under another launcher, one emptied before every start.
    metrics_dir: Path | None = None

    # Logging.
    log_level: LogLevel = "INFO"
    log_format: LogFormat | None = None

    @field_serializer("database_url")
    def _mask_database_password(self, _url: str) -> str:
        return self.database_url_masked

    @field_validator("cors_origins", "trusted_proxies", "mcp_excluded_tags", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("aggregate_sources", "client_feature_flags", mode="before")
    @classmethod
    def _parse_json_object(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        field = info.field_name or ""
        variable, expected = f"FORGE_{field.upper()}", _JSON_OBJECT_EXAMPLES[field]
        try:
            parsed = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            msg = f"{variable} is not valid JSON ({exc.msg}); expected a JSON object such as {expected}"
            raise ValueError(msg) from None
        if not isinstance(parsed, dict):
            msg = f"{variable} must be a JSON object such as {expected}"
            raise ValueError(msg)
        return parsed

    @field_validator("client_feature_flags")
    @classmethod
    def _flag_names(cls, flags: dict[str, bool]) -> dict[str, bool]:
        for name in flags:
            if not _FEATURE_FLAG_NAME.fullmatch(name):
                msg = f"FORGE_CLIENT_FEATURE_FLAGS: {name!r} is not a flag name (lower-case letters, digits, _)"
                raise ValueError(msg)
        return flags

    @model_validator(mode="after")
    def _redis_backend_needs_redis(self) -> Self:
        if self.rate_limit_backend is RateLimitBackend.REDIS and self.redis_url is None:
            msg = "FORGE_RATE_LIMIT_BACKEND=redis needs FORGE_REDIS_URL"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _cookies_need_listed_origins(self) -> Self:
        if self.auth_cookies and "*" in self.cors_origins:
            msg = (
                "FORGE_AUTH_COOKIES lets listed origins send the refresh token's cookie (CORS credentials): "
                "FORGE_CORS_ORIGINS must list them, not '*'"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _oidc_over_https_in_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        for name, provider in self.oidc_providers.items():
            address = provider.issuer if isinstance(provider, OidcProvider) else provider.base_url
            if not address.startswith("https://"):
                key = "issuer" if isinstance(provider, OidcProvider) else "base_url"
                msg = f"FORGE_OIDC_PROVIDERS: {name}'s {key} must be https in production"
                raise InsecureSettingsError(msg)
        return self

    @model_validator(mode="after")
    def _metrics_port_is_its_own(self) -> Self:
        if self.metrics_port is not None and self.metrics_port == self.port:
            msg = "FORGE_METRICS_PORT must differ from FORGE_PORT: /metrics is kept off the app's port"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _smtp_credentials_go_together(self) -> Self:
        if (self.smtp_username is None) != (self.smtp_password is None):
            msg = "FORGE_SMTP_USERNAME and FORGE_SMTP_PASSWORD are set together or not at all"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        secret = self.secret_key.get_secret_value()
        min_length = _MIN_SECRET_LENGTH[self.jwt_algorithm]
        if secret in _KNOWN_WEAK_SECRETS or len(secret) < min_length:
            msg = (
                "FORGE_SECRET_KEY is missing, a known default or shorter than "
                f"{min_length} characters (for {self.jwt_algorithm}); production refuses to start without one "
                f"({_HOW_TO_GENERATE})"
            )
            raise InsecureSettingsError(msg)
        pepper = self.api_key_pepper.get_secret_value()
        if pepper in _KNOWN_WEAK_SECRETS or len(pepper) < _MIN_SECRET_LENGTH["HS256"] or pepper == secret:
            msg = (
                "FORGE_API_KEY_PEPPER is missing, a known default, shorter than 32 characters or equal to "
                "FORGE_SECRET_KEY; production refuses to start without its own secret"
            )
            raise InsecureSettingsError(msg)
        if self.encryption_keys is None or self.blind_index_key is None:
            msg = "FORGE_ENCRYPTION_KEYS and FORGE_BLIND_INDEX_KEY must be set in production (docs/security.md)"
            raise InsecureSettingsError(msg)
        encryption_keys = [k.strip() for k in self.encryption_keys.get_secret_value().split(",")]
        if self.blind_index_key.get_secret_value().strip() in encryption_keys:
            msg = "FORGE_BLIND_INDEX_KEY must differ from every key in FORGE_ENCRYPTION_KEYS"
            raise InsecureSettingsError(msg)
        if "*" in self.cors_origins:
            msg = "FORGE_CORS_ORIGINS must list origins explicitly in production, not '*'"
            raise InsecureSettingsError(msg)
        if urlsplit(self.frontend_url).scheme != "https":
            msg = (
                "FORGE_FRONTEND_URL must be the https address of the web app that mail links open in production "
                f"(it is {self.frontend_url}): a reset link over http gives its token to the network"
            )
            raise InsecureSettingsError(msg)
        if self.metrics_enabled and self.metrics_token is None and self.metrics_port is None:
            msg = (
                "GET /metrics would be public on the app's port: production needs FORGE_METRICS_TOKEN (scrapers send "
                "it as a bearer token) or FORGE_METRICS_PORT (a port of its own, left unpublished), or "
                "FORGE_METRICS_ENABLED=false"
            )
            raise InsecureSettingsError(msg)
        _refuse_guessable(
            [
                ("FORGE_SECRET_KEY", secret),
                ("FORGE_API_KEY_PEPPER", pepper),
                *(("FORGE_ENCRYPTION_KEYS", key) for key in encryption_keys),
                ("FORGE_BLIND_INDEX_KEY", self.blind_index_key.get_secret_value()),
                *([("FORGE_METRICS_TOKEN", self.metrics_token.get_secret_value())] if self.metrics_token else []),
            ]
        )
        return self

    @model_validator(mode="after")
    def _refuse_development_mail_in_production(self) -> Self:  # after the secrets: they are reported first
        if self.environment is not Environment.PRODUCTION:
            return self
        if self.mail_backend is not MailBackendName.SMTP and not self.mail_allow_dev_backend_in_production:
            msg = (
                f"FORGE_MAIL_BACKEND={self.mail_backend} would keep production's mail (password resets included) on "
                "this host instead of sending it: set FORGE_MAIL_BACKEND=smtp and its FORGE_SMTP_* settings "
                "(docs/mail.md), or FORGE_MAIL_ALLOW_DEV_BACKEND_IN_PRODUCTION=true to mean it"
            )
            raise InsecureSettingsError(msg)
        if self.mail_backend is MailBackendName.SMTP:
            if self.mail_from_domain == _DEVELOPMENT_MAIL_DOMAIN:
                msg = "FORGE_MAIL_FROM must be set in production: the address mail is sent from (noreply@example.com)"
                raise InsecureSettingsError(msg)
            if self.smtp_username is not None and self.smtp_tls is SmtpTls.NONE:
                msg = "FORGE_SMTP_TLS=none would send FORGE_SMTP_PASSWORD in clear: use starttls or tls in production"
                raise InsecureSettingsError(msg)
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def database_url_masked(self) -> str:
        """The URL with its password hidden, whether in the authority (`user:pw@`) or the query (`?password=`)."""
        url = make_url(self.database_url)
        if "password" in url.query:
            url = url.update_query_dict({"password": "***"})
        return url.render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.JSON if self.is_production else LogFormat.CONSOLE

    @property
    def effective_migrate_on_start(self) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.environment is Environment.DEVELOPMENT

    @property
    def on_aws_lambda(self) -> bool:
        return self.aws_lambda_function_name is not None

    @property
    def effective_database_pool(self) -> DatabasePool:
        if self.database_pool is not None:
            return self.database_pool
        return DatabasePool.NULL if self.on_aws_lambda else DatabasePool.QUEUE

    @property
    def effective_jobs_run_in_server(self) -> bool:
        return self.jobs_run_in_server if self.jobs_run_in_server is not None else not self.on_aws_lambda

    @property
    def effective_smtp_port(self) -> int:
        return self.smtp_port if self.smtp_port is not None else _SMTP_PORTS[self.smtp_tls]

    @property
    def mail_from_domain(self) -> str:
        return parseaddr(self.mail_from)[1].rpartition("@")[2].lower()

    @property
    def effective_rate_limit_backend(self) -> RateLimitBackend:
        if self.rate_limit_backend is not None:
            return self.rate_limit_backend
        return RateLimitBackend.REDIS if self.redis_url is not None else RateLimitBackend.MEMORY

    @property
    def effective_hsts(self) -> bool:
        return self.hsts_enabled if self.hsts_enabled is not None else self.is_production

    @cached_property
    def sqlite_path(self) -> Path | None:
        """The database file of an SQLite URL, or None for another database or an in-memory one."""
        if not self.is_sqlite:
            return None
        _, _, path = self.database_url.partition(":///")
        path = path.split("?", 1)[0]
        if not path or path == ":memory:":
            return None
        return Path(path)


def get_settings() -> Settings:
    """Read the settings from the environment (each call reads anew; the app keeps its own instance)."""
    return Settings()
