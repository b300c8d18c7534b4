"""Idempotency keys: a retried write returns the first attempt's response instead of being done twice.

A client sends `Idempotency-Key: <unique string>` (IETF httpapi draft) with a write. The first request *claims*
the key in a short transaction of its own, so that a concurrent duplicate sees the claim and gets 409 at once;
the request's own transaction then does the work and stores the response in the claim's row — in the same
transaction, so the order and its stored response commit together or not at all. A retry after that replays the
stored response; a retry after a failure (the claim is released) or a crash (the claim's lease runs out) does the
work again, safely, because nothing was committed. A slow first attempt whose lease ran out cannot commit over a
newer one: completing checks that it still owns the claim, and rolls its whole transaction back otherwise.

The durable record lives in the database, not in Redis, even when Redis is configured: exactly-once needs the
record to commit atomically with the write it protects, which a second store cannot give.
"""

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import JSON, LargeBinary, String, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, Database, utcnow
from app.core.exceptions import ConflictError, ForgeError

__all__ = [
    "Claim",
    "IdempotencyKeyInUseError",
    "IdempotencyKeyReusedError",
    "IdempotencyRecord",
    "StoredResponse",
    "claim",
    "complete",
    "fingerprint",
    "purge_expired",
    "purge_periodically",
    "release",
]

RETENTION = timedelta(hours=24)
_log = structlog.get_logger("app.idempotency")


class IdempotencyKeyReusedError(ForgeError):
    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency Key Reused"


class IdempotencyKeyInUseError(ConflictError):
    slug = "idempotency-key-in-use"
    title = "Request In Progress"

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after_seconds)


class State(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("caller", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    caller: Mapped[str] = mapped_column(String(100))  # user:<id> or key:<digest>: keys are per caller
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # of the method, path and body
    state: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(32))  # the attempt holding the claim
    lease_until: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    response_status: Mapped[int | None]
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """This attempt holds the key: do the work, then `complete` in the same transaction."""

    record_id: int
    owner: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


async def claim(
    session: AsyncSession, *, caller: str, key: str, request_fingerprint: str, lease: timedelta
) -> Claim | StoredResponse:
    """Claim `key` for `caller`, or return the response stored by an earlier attempt.

    Raises `IdempotencyKeyReusedError` when the key came with a different request, `IdempotencyKeyInUseError`
    while another attempt holds a live lease. Commits its own short transaction.
    """
    now = utcnow()
    owner = secrets.token_hex(16)
    statement = select(IdempotencyRecord).where(IdempotencyRecord.caller == caller, IdempotencyRecord.key == key)
    record = (await session.execute(statement)).scalar_one_or_none()
    if record is not None and record.expires_at <= now:
        await session.delete(record)
        await session.flush()
        record = None
    if record is None:
        record = IdempotencyRecord(
            caller=caller,
            key=key,
            fingerprint=request_fingerprint,
            state=State.IN_PROGRESS,
            owner=owner,
            lease_until=now + lease,
            expires_at=now + RETENTION,
        )
        session.add(record)
        try:
            await session.commit()
        except IntegrityError:  # a concurrent first attempt claimed it between our read and our insert
            await session.rollback()
            raise _in_use(lease) from None
        return Claim(record_id=record.id, owner=owner)
    if record.fingerprint != request_fingerprint:
        msg = "This Idempotency-Key was used with a different request; use a new key for a new request."
        raise IdempotencyKeyReusedError(msg)
    if record.state == State.COMPLETED:
        # Completed rows always hold a response: `complete` sets the state and the response in one UPDATE.
        return StoredResponse(
            record.response_status or 200, dict(record.response_headers or {}), record.response_body or b""
        )
    if record.lease_until > now:
        raise _in_use(record.lease_until - now)
    # The attempt that held it crashed or stalled: take over, unless another retry just did.
    taken = await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record.id, IdempotencyRecord.owner == record.owner)
        .values(owner=owner, lease_until=now + lease)
    )
    await session.commit()
    if _rowcount(taken) != 1:
        raise _in_use(lease)
    return Claim(record_id=record.id, owner=owner)


async def complete(session: AsyncSession, held: Claim, response: StoredResponse) -> None:
    """Store the response in the request's own transaction; refuse (409) when the claim was taken over meanwhile."""
    stored = await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == held.record_id, IdempotencyRecord.owner == held.owner)
        .values(
            state=State.COMPLETED,
            response_status=response.status,
            response_headers=response.headers,
            response_body=response.body,
        )
    )
    if _rowcount(stored) != 1:
        msg = "This request took longer than its Idempotency-Key's lease and a retry took over; nothing was done."
        raise ConflictError(msg)


async def release(session: AsyncSession, held: Claim) -> None:
    """Give the key back after a failed attempt, so that a retry may do the work (commits its own transaction)."""
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.id == held.record_id,
            IdempotencyRecord.owner == held.owner,
            IdempotencyRecord.state == State.IN_PROGRESS,
        )
    )
    await session.commit()


async def purge_expired(session: AsyncSession) -> int:
    """Delete records older than the retention period; returns how many (commits)."""
    result = await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow()))
    await session.commit()
    return _rowcount(result)


async def purge_periodically(database: Database, *, every_seconds: float = 3600.0) -> None:
    """The lifespan's background task: expired records go away without a cron job. Errors wait for the next run."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            async with database.session(writes=True) as session:
                purged = await purge_expired(session)
            _log.info("idempotency_keys_purged", count=purged)
        except Exception:  # noqa: BLE001 - a database outage must not end the task
            _log.warning("idempotency_purge_failed", exc_info=True)


def _in_use(remaining: timedelta) -> IdempotencyKeyInUseError:
    seconds = max(1, int(remaining.total_seconds() + 0.999))
    msg = "A request with this Idempotency-Key is still being processed; retry after it finishes."
    return IdempotencyKeyInUseError(msg, retry_after_seconds=seconds)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0))
