"""The application factory: `create_app(settings)` wires middleware, routers, error handlers and the lifespan."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware

from app import __version__
from app.config import API_PREFIX, Settings, get_settings
from app.core.api_keys import ApiKeyHasher
from app.core.database import Database
from app.core.encryption import configure_encryption, load_keys
from app.core.logging import configure_logging
from app.core.metrics import Metrics
from app.core.migrations import ensure_schema_current
from app.core.problems import install_exception_handlers
from app.core.ratelimit import TrustedProxies, build_policies, build_rate_limiter
from app.core.redis import create_redis
from app.core.security import PasswordHasher, TokenService
from app.core.tracing import configure_tracing
from app.features.api_keys.router import router as api_keys_router
from app.features.client_config.router import router as client_config_router
from app.features.health.router import router as health_router
from app.features.orders.router import router as orders_router
from app.features.products.router import router as products_router
from app.features.users.router import auth_router
from app.features.users.router import router as users_router
from app.shared.middleware import RequestContextMiddleware, SecurityHeaders
from app.shared.ratelimit import RateLimitGate

__all__ = ["API_PREFIX", "app", "create_app"]

DOCS_URL = "/docs"
_log = structlog.get_logger("app")


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        # No connection is made here: the service starts while Redis is down, and /readyz reports it.
        redis = create_redis(settings)
        app.state.redis = redis
        app.state.rate_limiter = build_rate_limiter(settings, redis)
        try:
            await ensure_schema_current(database.engine)
            app.state.database = database
            _log.info(
                "started",
                environment=settings.environment.value,
                database=settings.database_url_masked,
                version=__version__,
            )
            yield
        finally:
            if app.state.rate_limiter is not None:
                await app.state.rate_limiter.close()
            elif redis is not None:
                await redis.aclose()
            await database.dispose()
            if app.state.tracer_provider is not None:
                app.state.tracer_provider.shutdown()  # flushes the spans still batched
            _log.info("stopped")

    return lifespan


def _api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX)
    for router in (auth_router, users_router, api_keys_router, products_router, orders_router, client_config_router):
        api.include_router(router)
    return api


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="ForgeAPI",
        version=__version__,
        summary="A production-ready FastAPI service foundation.",
        lifespan=_lifespan(settings),
        docs_url=DOCS_URL if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        swagger_ui_oauth2_redirect_url=f"{DOCS_URL}/oauth2-redirect" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    configure_encryption(load_keys(settings))
    app.state.password_hasher = PasswordHasher(settings)
    app.state.token_service = TokenService(settings)
    app.state.api_key_hasher = ApiKeyHasher(settings.api_key_pepper.get_secret_value())
    app.state.metrics = Metrics(api_prefix=API_PREFIX, state=lambda: app.state) if settings.metrics_enabled else None

    install_exception_handlers(app)
    app.include_router(health_router)
    app.include_router(_api_router())

    # Added innermost first: RequestContextMiddleware ends up outermost, so that its request id, headers and
    # last-resort 500 cover everything inside it.
    app.add_middleware(GZipMiddleware, minimum_size=settings.gzip_minimum_size)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    rate_limit = None
    if settings.rate_limit_enabled:
        build_policies(settings)  # a malformed FORGE_RATE_LIMIT_* fails here, at start-up, naming the setting
        rate_limit = RateLimitGate(
            tokens=app.state.token_service,
            trusted_proxies=TrustedProxies(settings.trusted_proxies, header=settings.forwarded_header),
        )
    docs_paths = (DOCS_URL, f"{DOCS_URL}/oauth2-redirect") if settings.docs_enabled else ()
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        security_headers=SecurityHeaders(hsts=settings.effective_hsts, docs_paths=docs_paths),
        rate_limit=rate_limit,
        metrics=app.state.metrics.http if app.state.metrics is not None else None,
    )
    app.state.tracer_provider = configure_tracing(app, settings)  # last: its middleware goes outermost
    return app


app = create_app()
