"""The application factory: `create_app(settings)` wires middleware, routers, error handlers and the lifespan."""

import asyncio
import gc
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import DESCRIPTION, TITLE, __version__
from app.config import API_PREFIX, Settings, get_settings
from app.core import idempotency
from app.core.context import CONTEXT_KEY, AppContext
from app.core.dashboard import DashboardSources
from app.core.database import Database
from app.core.encryption import EncryptionKeys, configure_encryption, load_keys
from app.core.events import Events
from app.core.http import create_http_client
from app.core.jobs import JobRegistry, configured_worker, counting_enqueued
from app.core.logging import configure_logging
from app.core.mail import Mailer, configured_mailer
from app.core.metrics import JobMetrics, Metrics, job_metrics, state_readings
from app.core.migrations import ensure_schema_current
from app.core.opaque_tokens import SecretHasher
from app.core.problems import install_exception_handlers, install_problem_schema
from app.core.ratelimit import build_policies, build_rate_limiter
from app.core.redis import create_redis
from app.core.response_cache import ResponseCache, following_writes, observing_versions
from app.core.security import PasswordHasher, TokenService
from app.core.tracing import (
    Telemetry,
    Tracing,
    configure_telemetry,
    fastapi_telemetry,
    instrument_clients,
    meter_of,
    observe_state,
)
from app.features.aggregate.router import router as aggregate_router
from app.features.api_keys.admin import section as api_keys_console
from app.features.api_keys.router import router as api_keys_router
from app.features.audit.admin import section as audit_console
from app.features.audit.router import router as audit_router
from app.features.audit.service import AuditLog
from app.features.auth.addresses import TrustedProxies
from app.features.auth.caller import Identification
from app.features.client_config.router import router as client_config_router
from app.features.client_config.schemas import ClientConfig
from app.features.client_config.service import client_config
from app.features.console.site import install_console
from app.features.dashboard.admin import section as dashboard_console
from app.features.dashboard.router import router as dashboard_router
from app.features.dynamic_endpoints.admin import section as endpoint_specs_console
from app.features.dynamic_endpoints.dispatch import assert_prefix_reserved
from app.features.dynamic_endpoints.dispatch import router as dynamic_router
from app.features.dynamic_endpoints.openapi import install_openapi
from app.features.dynamic_endpoints.router import router as dynamic_admin_router
from app.features.dynamic_endpoints.state import EndpointRuntime
from app.features.dynamic_endpoints.sync import RegistrySync
from app.features.events.router import router as events_router
from app.features.health.router import router as health_router
from app.features.jobs.admin import section as jobs_console
from app.features.jobs.router import router as jobs_router
from app.features.mfa.router import router as mfa_router
from app.features.oidc.providers import ProviderDirectory
from app.features.oidc.router import identities_router as oidc_identities_router
from app.features.oidc.router import router as oidc_router
from app.features.orders.admin import section as orders_console
from app.features.orders.router import router as orders_router
from app.features.orders.service import daily_series as orders_daily_series
from app.features.products.admin import section as products_console
from app.features.products.router import router as products_router
from app.features.sessions.admin import section as sessions_console
from app.features.sessions.dependencies import CSRF_HEADER
from app.features.sessions.router import router as sessions_router
from app.features.users.admin import section as users_console
from app.features.users.router import auth_router
from app.features.users.router import router as users_router
from app.features.users.service import daily_series as users_daily_series
from app.features.webhooks.admin import section as webhooks_console
from app.features.webhooks.router import router as webhooks_router
from app.jobs import event_subscriptions, job_registry
from app.mcp.streamable import MCP_PATH, McpEndpoint, McpSessions
from app.shared.access_log import AccessLog
from app.shared.api_docs import DOCS_URL, install_docs
from app.shared.body_limit import BodyLimit
from app.shared.caching import PrivateByDefault
from app.shared.compression import Compression, VaryByEncoding
from app.shared.console import CONSOLE_CSP, CONSOLE_PATH, ConsoleSection
from app.shared.idempotency import install_idempotency
from app.shared.pipeline import RequestPipeline, RequestUnit
from app.shared.ratelimit import RateLimitGate
from app.shared.request_id import RequestId
from app.shared.request_metrics import RequestMetrics
from app.shared.routing import include_flat
from app.shared.security_headers import SecurityHeaders

__all__ = ["API_PREFIX", "app", "create_app"]

OPENAPI_URL = "/openapi.json"

_log = structlog.get_logger("app")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Built:
    """What `create_app` built for the lifespan to put in the context: the parts the routes and middleware need
    from construction on, and that open nothing (no connection, no file, no task)."""

    settings: Settings
    telemetry: Telemetry | None
    encryption_keys: EncryptionKeys
    password_hasher: PasswordHasher
    token_service: TokenService
    secret_hasher: SecretHasher
    identification: Identification
    metrics: Metrics | None
    job_metrics: JobMetrics | None  # the metrics' own, or over OTLP alone when /metrics is off
    endpoints: EndpointRuntime
    rate_limit_gate: RateLimitGate | None
    mcp: McpEndpoint | None
    jobs: JobRegistry
    events: Events
    mailer: Mailer


@asynccontextmanager
async def _embedded_jobs(built: _Built, database: Database, tracing: Tracing) -> AsyncIterator[None]:
    """The embedded job worker, unless separate `forge worker` processes run the jobs (or the app has none)."""
    if not (built.settings.effective_jobs_run_in_server and built.jobs):
        yield
        return
    worker = configured_worker(
        built.settings,
        database,
        built.jobs,
        tracing=tracing,
        metrics=built.job_metrics,
        events=built.events,
        mailer=built.mailer,
    )
    worker.start()
    try:
        yield
    finally:
        await worker.stop()  # running jobs finish (within FORGE_JOBS_SHUTDOWN_SECONDS) or are released


def _edge_components(built: _Built, components: dict[type, object]) -> McpSessions | None:
    """Registers the HTTP edge's components: the rate-limit gate and MCP's sessions (returned: the lifespan runs
    them)."""
    if built.rate_limit_gate is not None:
        components[RateLimitGate] = built.rate_limit_gate
    if built.mcp is None:
        return None
    components[McpSessions] = sessions = built.mcp.sessions()
    return sessions


def _mcp_running(sessions: McpSessions | None) -> AbstractAsyncContextManager[None]:
    return sessions.running() if sessions is not None else nullcontext()


def _lifespan(built: _Built) -> Callable[[FastAPI], AbstractAsyncContextManager[Mapping[str, Any]]]:
    settings = built.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[Mapping[str, Any]]:
        configure_encryption(built.encryption_keys)
        enqueued = built.job_metrics.enqueued if built.job_metrics is not None else None
        # No connection is made here: the service starts while Redis is down, and /readyz reports it.
        redis = create_redis(settings)
        response_cache = ResponseCache.configured(settings, redis)
        database = Database(
            settings,
            session_info={
                **counting_enqueued(enqueued),  # jobs counted as they commit
                # committed writes drop this instance's cached reads of their data at once, and tell the others
                **observing_versions(response_cache),
            },
        )
        rate_limiter = build_rate_limiter(settings, redis)
        purger: asyncio.Task[None] | None = None
        # One outbound client (one connection pool) for every request; tracing was configured by create_app.
        telemetry = built.telemetry
        http_client = create_http_client(settings, tracer_provider=telemetry.tracer_provider if telemetry else None)
        registry_sync = RegistrySync(runtime=built.endpoints, database=database, redis=redis, settings=settings)
        tracing = Tracing.of(telemetry)
        docs_url = DOCS_URL if settings.docs_enabled else None
        components: dict[type, object] = {
            EndpointRuntime: built.endpoints,
            DashboardSources: _dashboard_sources(),
            # The sign-in providers, with their discovery documents and signing keys cached for the app's life.
            ProviderDirectory: ProviderDirectory(settings, http_client),
            # Made of the settings alone: built once, not per request (`GET /api/v1/config`).
            ClientConfig: client_config(settings=settings, docs_url=docs_url),
        }
        mcp_sessions = _edge_components(built, components)
        context = AppContext(
            settings=settings,
            docs_url=docs_url,
            telemetry=telemetry,
            tracing=tracing,
            password_hasher=built.password_hasher,
            token_service=built.token_service,
            secret_hasher=built.secret_hasher,
            identify=built.identification,
            metrics=built.metrics,
            database=database,
            redis=redis,
            rate_limiter=rate_limiter,
            http_client=http_client,
            events=built.events,
            mailer=built.mailer,
            audit=AuditLog(),
            response_cache=response_cache,
            components=components,
        )

        def readings() -> dict[str, Any]:
            store = response_cache.store if response_cache is not None else None
            return state_readings(pool=database.engine.pool, limiter=rate_limiter, cache=store)

        observe_state(telemetry, readings)
        try:
            await ensure_schema_current(database.engine)
            await registry_sync.start()
            instrument_clients(telemetry, engine=database.engine, redis=redis)  # after start-up's queries
            purger = asyncio.create_task(idempotency.purge_periodically(database), name="idempotency-purge")
            if built.metrics is not None:
                built.metrics.share(settings.metrics_dir, readings)  # every worker's counts, for any one's scrape
            # Everything built so far (routes, schemas, settings, the ORM's registry) lives as long as the
            # process: frozen out of the collector's reach, it is no longer traversed by every full collection,
            # whose pauses otherwise show up as a long latency tail under load.
            gc.freeze()
            _log.info(
                "started",
                environment=settings.environment.value,
                database=settings.database_url_masked,
                version=__version__,
            )
            # The lifespan state: the server gives every request a copy, where `app.core.context` reads it.
            async with (
                following_writes(response_cache, database),
                _embedded_jobs(built, database, tracing),
                _mcp_running(mcp_sessions),
            ):
                yield {CONTEXT_KEY: context}
        finally:
            if purger is not None:
                purger.cancel()
            if built.metrics is not None:
                built.metrics.unshare()
            await http_client.aclose()
            await registry_sync.stop()
            if rate_limiter is not None:
                await rate_limiter.close()
            elif redis is not None:
                await redis.aclose()
            await database.dispose()
            if telemetry is not None:
                telemetry.shutdown()  # flushes the spans and metrics still batched
            # Back within the collector's reach: a process that builds apps one after another (the test suite,
            # a Lambda container re-initialised) would otherwise keep every one of them forever.
            gc.unfreeze()
            _log.info("stopped")

    return lifespan


def _dashboard_sources() -> DashboardSources:
    """What the admins' dashboard collects from the features: their daily series (core/dashboard.py)."""
    return DashboardSources(
        daily=(
            users_daily_series,  # accounts registered per day
            orders_daily_series,  # orders placed and revenue per day
        )
    )


def _api_routers() -> tuple[APIRouter, ...]:
    """The routers served under API_PREFIX."""
    return (
        auth_router,
        oidc_router,
        sessions_router,  # /users/me/sessions/... before users' /users/{user_id}/...
        mfa_router,  # /users/me/mfa/... likewise
        oidc_identities_router,  # /users/me/identities/..., likewise
        users_router,
        api_keys_router,
        products_router,
        orders_router,
        aggregate_router,
        client_config_router,
        dynamic_admin_router,
        jobs_router,
        webhooks_router,
        events_router,
        audit_router,
        dashboard_router,
        # forge feature new: routers go above this line
    )


def _console_sections() -> tuple[ConsoleSection, ...]:
    """What each feature shows in the admin console (FORGE_ADMIN_ENABLED), in the menu's order."""
    return (
        dashboard_console,  # its panels only: the dashboard is the console's first page
        users_console,
        sessions_console,
        api_keys_console,
        products_console,
        orders_console,
        jobs_console,
        endpoint_specs_console,
        webhooks_console,
        audit_console,
        # forge feature new: console sections go above this line
    )


def create_app(settings: Settings | None = None, *, jobs: JobRegistry | None = None) -> FastAPI:
    """The app; `jobs`, the job types its embedded worker runs, is the app's own (`job_registry(settings)`) by
    default."""
    settings = settings or get_settings()
    configure_logging(settings)
    telemetry = configure_telemetry(settings)
    token_service = TokenService(settings)
    secret_hasher = SecretHasher(settings.api_key_pepper.get_secret_value())
    trusted_proxies = TrustedProxies(settings.trusted_proxies, header=settings.forwarded_header)
    meter = meter_of(telemetry)
    metrics = Metrics(api_prefix=API_PREFIX, meter=meter) if settings.metrics_enabled else None
    jobs_metrics = job_metrics(metrics, meter)
    endpoints = EndpointRuntime(max_specs=settings.dynamic_endpoints_max_specs)
    rate_limit = None
    if settings.rate_limit_enabled:
        build_policies(settings)  # a malformed FORGE_RATE_LIMIT_* fails here, at start-up, naming the setting
        # Built with the app: the middleware holds it; the limiter it counts with is the context's, per request.
        # MCP's messages are counted as the API requests they make (features/mcp/streamable.py).
        exempt = frozenset({MCP_PATH}) if settings.mcp_enabled else frozenset()
        rate_limit = RateLimitGate(tracing=telemetry is not None, exempt_paths=exempt)
    encryption_keys = load_keys(settings)  # a missing production key fails here, before any start
    mcp = McpEndpoint(settings) if settings.mcp_enabled else None  # /mcp, added after the API's routes
    built = _Built(
        settings=settings,
        telemetry=telemetry,
        encryption_keys=encryption_keys,
        password_hasher=PasswordHasher(settings),
        token_service=token_service,
        secret_hasher=secret_hasher,
        identification=Identification(tokens=token_service, hasher=secret_hasher, trusted_proxies=trusted_proxies),
        metrics=metrics,
        job_metrics=jobs_metrics,
        endpoints=endpoints,
        rate_limit_gate=rate_limit,
        mcp=mcp,
        jobs=jobs if jobs is not None else job_registry(settings),
        events=Events(event_subscriptions()),
        # A missing FORGE_MAIL_TEMPLATES_DIR or FORGE_SMTP_CA_FILE fails here, naming the setting.
        mailer=configured_mailer(settings, encryption_keys),
    )
    app = FastAPI(
        title=TITLE,
        version=__version__,
        summary=DESCRIPTION or None,  # pyproject.toml's description
        lifespan=_lifespan(built),
        docs_url=None,  # served by install_docs from the app's own assets, not FastAPI's CDN-loading pages
        redoc_url=None,
        openapi_url=OPENAPI_URL if settings.docs_enabled else None,
        telemetry=fastapi_telemetry(telemetry),  # around the whole middleware stack
    )

    install_exception_handlers(app)
    install_problem_schema(app)
    install_idempotency(app)
    # Flat, not included as a tree (see include_flat). The dynamic endpoints' catch-all first: their requests then
    # skip matching every built-in route, and others pay one failed prefix match for it; then the probes, which
    # orchestrators call every few seconds.
    include_flat(app, dynamic_router)
    include_flat(app, health_router)
    for router in _api_routers():
        include_flat(app, router, prefix=API_PREFIX)
    if mcp is not None:
        mcp.install(app)
    assert_prefix_reserved(app)
    install_openapi(app, endpoints)
    docs_policies = install_docs(app, openapi_url=OPENAPI_URL) if settings.docs_enabled else {}
    if settings.admin_enabled:
        install_console(app, settings=settings, title=TITLE, sections=_console_sections())

    # Added innermost first. The request pipeline is outermost, so that its request id, headers and last-resort 500
    # cover everything inside it; its units run in the order listed (docs/architecture.md, "A request's way").
    if settings.cors_origins:
        # Credentials only for the refresh token's cookie (FORGE_AUTH_COOKIES), which a single-page app on a listed
        # origin sends to /auth/refresh and /auth/logout with the X-CSRF-Token it was given.
        cookies = settings.auth_cookies
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", *([CSRF_HEADER] if cookies else [])],
            allow_credentials=cookies,
            expose_headers=["X-Request-ID", *([CSRF_HEADER] if cookies else [])],
        )
    app.add_middleware(Compression, minimum_size=settings.gzip_minimum_size)
    units: list[RequestUnit | None] = [
        # Response headers only: first, so that they look for the app's Cache-Control and Vary among the app's own.
        PrivateByDefault(),
        VaryByEncoding(),
        RequestId(),
        RequestMetrics(metrics.http) if metrics is not None else None,
        AccessLog(),
        BodyLimit(settings.max_body_bytes),
        SecurityHeaders(
            hsts=settings.effective_hsts,
            docs_policies=docs_policies,
            prefix_policies={CONSOLE_PATH: CONSOLE_CSP} if settings.admin_enabled else None,
        ),
        rate_limit,
    ]
    app.add_middleware(RequestPipeline, units=[unit for unit in units if unit is not None])

    return app


app = create_app()
