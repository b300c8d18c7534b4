"""Cache versions: a write says which cached data it changes, in its own transaction.

A service that changes data some cached read is made of calls `mark_changed(session, namespace)`. When the
session commits, one statement per namespace bumps that namespace's row of `cache_version` in the same
transaction (just before COMMIT, so that the row lock is held for the commit only: every product write and order
would otherwise queue behind one another on that row for their whole transaction). Once COMMIT has returned, the
session tells its observer (the app's `ResponseCache`, put in every session's `info` by `Database`) the new
versions: that instance invalidates at once, before the write's response is sent, and announces the write to the
others. A rolled-back transaction bumps and tells nothing.

The versions are what instances agree on: a missed announcement is caught up by reading them (`read_versions`).
Sessions without an observer (`forge worker`, the CLI) still bump them, and running instances notice.
"""

from collections.abc import Callable, Mapping
from typing import Protocol

from sqlalchemy import BigInteger, String, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from app.core.database import Base

__all__ = ["CacheVersion", "VersionObserver", "mark_changed", "observing_versions", "read_versions"]

type VersionObserver = Callable[[Mapping[str, int]], None]

_OBSERVER = "forge.cache.observer"
_PENDING = "forge.cache.pending"
_BUMPED = "forge.cache.bumped"


class CacheVersion(Base):
    """One row per namespace of cached data: bumped by every committed write to that data."""

    __tablename__ = "cache_version"

    namespace: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class _Observing(Protocol):
    def committed(self, versions: Mapping[str, int]) -> None: ...


def observing_versions(cache: _Observing | None) -> dict[str, object]:
    """The session `info` that makes a session tell `cache.committed` the versions its commits bumped."""
    return {} if cache is None else {_OBSERVER: cache.committed}


def mark_changed(session: AsyncSession, namespace: str) -> None:
    """Say that this transaction changes the data cached under `namespace`: its version is bumped when the
    transaction commits, and every instance's cached reads of it are dropped."""
    info = session.info
    pending: set[str] | None = info.get(_PENDING)
    if pending is None:  # the session's first change: listen for its transactions' ends (once per session)
        pending = info[_PENDING] = set()
        sync_session = session.sync_session
        event.listen(sync_session, "before_commit", _bump)
        event.listen(sync_session, "after_commit", _report)
        event.listen(sync_session, "after_transaction_end", _forget)
    pending.add(namespace)


def _bump_statement(dialect: str, namespace: str) -> object:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(CacheVersion).values(namespace=namespace, version=1)
    return statement.on_conflict_do_update(
        index_elements=[CacheVersion.namespace], set_={"version": CacheVersion.version + 1}
    ).returning(CacheVersion.version)


def _bump(session: Session) -> None:
    pending: set[str] = session.info[_PENDING]
    if not pending:
        return
    dialect = session.get_bind().dialect.name
    bumped: dict[str, int] = session.info.setdefault(_BUMPED, {})
    for namespace in sorted(pending):  # one order for every writer: two transactions cannot deadlock on the rows
        bumped[namespace] = session.execute(_bump_statement(dialect, namespace)).scalar_one()  # type: ignore[call-overload]
    pending.clear()


def _report(session: Session) -> None:
    bumped: dict[str, int] = session.info.pop(_BUMPED, {})
    observer: VersionObserver | None = session.info.get(_OBSERVER)
    if bumped and observer is not None:
        observer(bumped)


def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended without a commit (after one, nothing is left)
        session.info[_PENDING].clear()
        session.info.pop(_BUMPED, None)


async def read_versions(session: AsyncSession) -> dict[str, int]:
    """Every namespace's committed version."""
    rows = await session.execute(select(CacheVersion.namespace, CacheVersion.version))
    return dict(rows.all())
