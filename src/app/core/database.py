"""Async SQLAlchemy: the declarative base, the engine (SQLite or PostgreSQL) and the per-request session.

SQLite specifics (see docs/architecture.md): WAL, foreign keys and a busy timeout are set per connection, and
SQLAlchemy emits BEGIN itself, so that savepoints nest and write requests can take the write lock up front with
`BEGIN IMMEDIATE`. A deferred transaction that reads first and writes later fails at once with SQLITE_BUSY when
another writer committed in between, and the busy timeout does not help there; IMMEDIATE makes writers queue.
"""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import DateTime, Dialect, MetaData, event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from app.config import DatabasePool, Settings
from app.core.context import context_of
from app.core.exceptions import ForgeError
from app.core.fair_pool import FairAsyncQueuePool
from app.core.reads import Reader

__all__ = [
    "Base",
    "DBSession",
    "Database",
    "DatabaseDep",
    "ReadMostlyDBSession",
    "Reads",
    "TimestampMixin",
    "UTCDateTime",
    "WritingDBSession",
    "best_effort_write",
    "committing",
    "get_database",
    "get_db_session",
    "get_read_db_session",
    "get_reader",
    "get_writing_db_session",
    "is_disconnect_error",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
_BEGIN_MODE_OPTION = "forge_sqlite_begin"
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones; it stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetime given; use timezone-aware UTC datetimes"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}  # noqa: RUF012 - SQLAlchemy reads this class attribute


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _unicode_lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def _install_sqlite_hooks(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the driver (it would skip it before SELECT and mishandle SAVEPOINT).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's built-in lower() folds ASCII only; case-insensitive search must match PostgreSQL's ("Über").
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # a reading session: every statement is its own transaction
        connection.exec_driver_sql(f"BEGIN {options.get(_BEGIN_MODE_OPTION, 'DEFERRED')}")


def _pool_arguments(settings: Settings) -> dict[str, Any]:
    if settings.effective_database_pool is DatabasePool.NULL:
        # Nothing stays open between requests: on Lambda, thousands of frozen containers would otherwise each
        # hold idle connections until they are reaped. Each request pays for a connect instead.
        return {"poolclass": NullPool}
    if settings.is_sqlite:
        # SQLAlchemy's default size for the file (the size settings are PostgreSQL's); an in-memory database keeps
        # its one connection (SQLAlchemy's StaticPool).
        return {"poolclass": FairAsyncQueuePool} if settings.sqlite_path is not None else {}
    return {
        "poolclass": FairAsyncQueuePool,
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_recycle": settings.database_pool_recycle,
        "pool_timeout": settings.database_pool_timeout,
    }


# PostgreSQL errors after which a connection is unusable, besides the closed socket SQLAlchemy recognises itself:
# SQLSTATE class 08 (connection exception) and 57P01-57P03 (the server is shutting down, crashed, or does not accept
# connections yet); and asyncpg's InternalClientError, raised when a connection's protocol state was broken
# mid-operation (seen when the server terminates connections during a fast shutdown).
_DISCONNECT_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def is_disconnect_error(error: BaseException) -> bool:
    """Whether a DB-API error (or the driver's own) means the connection is gone and must be replaced."""
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_DISCONNECT_SQLSTATES):
        return True
    return isinstance(error, asyncpg.InternalClientError) or isinstance(error.__cause__, asyncpg.InternalClientError)


def _install_postgresql_hooks(engine: AsyncEngine, *, check_on_checkout: bool) -> None:
    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        # Marked as a disconnect, the connection is invalidated (never returned to the pool), so is every one
        # pooled before it, and the raised error says `connection_invalidated`: a read retries on a new
        # connection (core/reads.py); anything else is answered 503.
        if context.original_exception is not None and is_disconnect_error(context.original_exception):
            context.is_disconnect = True

    if not check_on_checkout:
        return

    # No pre-ping: SQLAlchemy's would cost a read three round trips more (asyncpg wraps its `;` in BEGIN and
    # ROLLBACK, as the ping runs before a reading connection's autocommit applies); in autocommit still one more.
    # What a restart or a terminated backend leaves in the pool is a connection whose socket the server closed,
    # and asyncpg knows it without asking the server: replaced here, with no round trip. A connection that died
    # unseen (no close received yet) is found by its first statement: reads retry once (core/reads.py).
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this pooled connection")  # the pool connects anew


def create_engine(settings: Settings) -> AsyncEngine:
    """The app's engine. `hide_parameters`: a failed statement's error text (logged with its traceback) and the
    SQL log at DEBUG would otherwise carry the bound values: password hashes, token digests, e-mail addresses."""
    if settings.is_sqlite:
        if settings.sqlite_path is not None:
            settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            settings.database_url,
            echo=settings.database_echo,
            hide_parameters=True,
            connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
            **_pool_arguments(settings),
        )
        _install_sqlite_hooks(engine, settings.sqlite_busy_timeout_ms)
        return engine
    engine = create_async_engine(
        settings.database_url,
        echo=settings.database_echo,
        hide_parameters=True,
        # asyncpg waits 60 s for a new connection by default: far past any client's patience.
        connect_args={"timeout": settings.database_connect_timeout},
        **_pool_arguments(settings),
    )
    _install_postgresql_hooks(engine, check_on_checkout=settings.database_pool_pre_ping)
    return engine


class Database:
    """The engine and session factory that the app's lifespan owns."""

    def __init__(self, settings: Settings, *, session_info: Mapping[str, Any] | None = None) -> None:
        """`session_info`: put in every session's `info` (copied), for hooks such as counting committed jobs."""
        self.engine = create_engine(settings)
        self.is_sqlite = settings.is_sqlite
        self.session_info: Mapping[str, Any] = dict(session_info or {})
        info = dict(self.session_info)
        self.session_factory = async_sessionmaker(self.engine, expire_on_commit=False, info=info)
        # Reads run without BEGIN/COMMIT: two round-trips fewer per request, on PostgreSQL as much as the query
        # itself (docs/performance.md). Each statement sees a consistent snapshot; a read that needs several
        # statements to agree asks for a transaction (writes=True) or does it in one statement. The read-only
        # endpoints' `reader` runs its statements on the same connections, without a session (core/reads.py).
        autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read_factory = async_sessionmaker(autocommit, expire_on_commit=False, info=info)
        self.reader = Reader(autocommit.sync_engine.connect)

    def session(self, *, writes: bool) -> AsyncSession:
        """A new session. Writing sessions are transactions (on SQLite taking the write lock as they begin);
        reading ones autocommit each statement."""
        if not writes:
            return self._read_factory()
        if self.is_sqlite:
            return self.session_factory(execution_options={_BEGIN_MODE_OPTION: "IMMEDIATE"})
        return self.session_factory()

    async def dispose(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def best_effort_write(session: AsyncSession) -> AsyncIterator[None]:
    """A small write that may fail (OperationalError) without failing the request that makes it.

    Inside a transaction it runs in a savepoint, so that its failure rolls back only itself; in a reading session,
    which autocommits every statement, it is flushed on its own.
    """
    connection = await session.connection()
    if (
        connection.sync_connection is not None
        and connection.sync_connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    ):
        yield
        await session.flush()
        return
    async with session.begin_nested():
        yield


@asynccontextmanager
async def committing(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """The session's transaction: committed when the block succeeds, rolled back when it raises (but for an error
    whose writes are its point, `ForgeError.keeps_writes`, which commits them and is raised still); then closed."""
    async with session:
        try:
            yield session
        except BaseException as exc:
            if isinstance(exc, ForgeError) and exc.keeps_writes:
                await session.commit()
            else:
                await session.rollback()
            raise
        await session.commit()


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler succeeds, rolled back when it raises."""
    writes = request.method not in _READ_ONLY_METHODS
    async with committing(context_of(request).database.session(writes=writes)) as session:
        yield session


async def get_read_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Like `get_db_session`, but never taking SQLite's write lock up front, whatever the HTTP method.

    For unsafe-method routes that mostly read and do slow work in between (login verifies a password for tens of
    milliseconds): holding the write lock meanwhile would stall every writer. Their rare writes must be best
    effort (see `users.repository.update_password_hash`).
    """
    async with committing(context_of(request).database.session(writes=False)) as session:
        yield session


async def get_writing_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A transaction whatever the HTTP method, for the GET routes that write: a browser's navigation is a GET (the
    provider sign-in's start and callback). A GET's `DBSession` autocommits each statement; this one commits once.
    On SQLite it takes the write lock at its first statement: such a route reads and waits on the network first
    (with `DBSession`), and writes with this session last."""
    async with committing(context_of(request).database.session(writes=True)) as session:
        yield session


# scope="function": the commit runs before the response is sent, so a failed commit is an error response,
# never a 2xx for a write that did not happen.
DBSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
ReadMostlyDBSession = Annotated[AsyncSession, Depends(get_read_db_session, scope="function")]
WritingDBSession = Annotated[AsyncSession, Depends(get_writing_db_session, scope="function")]


async def get_database(request: Request) -> Database:
    return context_of(request).database


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_reader(request: Request) -> Reader:
    """The app's `Reader`, for read-only endpoints: a plain dependency, none of `yield`'s machinery."""
    return context_of(request).database.reader


Reads = Annotated[Reader, Depends(get_reader)]
