"""The audit trail in tests: an `Audit` for service calls made outside a request, the entries a test's actions
left, and emptying the append-only table after tests whose requests committed."""

from typing import Any

import httpx
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.core.audit import Actor, Audit
from app.features.audit.models import AuditEntry
from app.features.audit.service import AuditLog

__all__ = [
    "SERVICE_ACTOR_ID",
    "assert_no_entry",
    "audit_as",
    "clear_audit",
    "empty_audit_table",
    "entries",
    "entry_of",
]

# The actor of service calls that tests make outside a request (no such user: the trail has no foreign keys).
SERVICE_ACTOR_ID = 2**31 - 1


def audit_as(user_id: int = SERVICE_ACTOR_ID, *, api_key_id: int | None = None) -> Audit:
    """The app's audit trail, as the actor `user_id`."""
    return Audit(AuditLog(), Actor(user_id=user_id, api_key_id=api_key_id))


async def entries(session: AsyncSession, **where: Any) -> list[AuditEntry]:
    """The entries whose columns have the given values, oldest first."""
    statement = select(AuditEntry).filter_by(**where).order_by(AuditEntry.id)
    return list((await session.scalars(statement, execution_options={"populate_existing": True})).all())


async def entry_of(session: AsyncSession, response: httpx.Response, **where: Any) -> AuditEntry:
    """The one entry a successful request left (found by its request id), whose columns have the given values."""
    assert response.is_success, response.text
    [entry] = await entries(session, request_id=response.headers["x-request-id"])
    for column, value in where.items():
        assert getattr(entry, column) == value, column
    return entry


async def assert_no_entry(session: AsyncSession, response: httpx.Response) -> None:
    """A refused request left no entry."""
    assert not response.is_success, response.text
    assert await entries(session, request_id=response.headers["x-request-id"]) == []


async def empty_audit_table(connection: AsyncConnection) -> None:
    """Delete every audit entry. On PostgreSQL the table's trigger refuses that to everyone, unless triggers are off
    for the transaction, which only a superuser (the tests' PostgreSQL user) may ask for."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
    await connection.execute(delete(AuditEntry))
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SET LOCAL session_replication_role = DEFAULT"))


async def clear_audit(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await empty_audit_table(connection)
