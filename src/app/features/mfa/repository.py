"""SQL for two-factor authentication; nothing else builds statements against `totp_credential` or
`mfa_recovery_code`. The writes that accept a code are conditional UPDATEs: of two requests presenting the same
code at once, exactly one changes the row, and the other is refused."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.features.mfa.models import RecoveryCode, TotpCredential

__all__ = [
    "count_unused_recovery_codes",
    "delete_credential",
    "enable",
    "get_credential",
    "recovery_code_was_used",
    "replace_recovery_codes",
    "start_enrolment",
    "use_recovery_code",
    "use_step",
]


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0))


async def get_credential(session: AsyncSession, user_id: int) -> TotpCredential | None:
    statement = select(TotpCredential).where(TotpCredential.user_id == user_id)
    return (await session.execute(statement.execution_options(populate_existing=True))).scalar_one_or_none()


async def start_enrolment(session: AsyncSession, *, user_id: int, secret: str, now: datetime) -> TotpCredential:
    """The user's pending credential with this secret: a new row, or the pending one restarted (a secret shown
    before is then void)."""
    row = await get_credential(session, user_id)
    if row is None:
        row = TotpCredential(user_id=user_id, secret=secret, created_at=now)
        session.add(row)
    else:
        row.secret, row.created_at, row.enabled_at, row.last_used_step = secret, now, None, None
    await session.flush()
    return row


async def enable(session: AsyncSession, *, pending: TotpCredential, step: int, now: datetime) -> bool:
    """Turn on this pending credential, its confirming code's step used; False if it is no longer the one read
    (confirmed, restarted with another secret, or removed by another request meanwhile)."""
    statement = (
        update(TotpCredential)
        .where(
            TotpCredential.id == pending.id,
            TotpCredential.enabled_at.is_(None),
            TotpCredential.created_at == pending.created_at,  # a restart sets a new secret and a new time
        )
        .values(enabled_at=now, last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(await session.execute(statement)) > 0


async def use_step(session: AsyncSession, *, user_id: int, step: int) -> bool:
    """Record `step` as the last one used, if the credential is on and no code of this or a later step was
    accepted before; False otherwise (a replayed code)."""
    statement = (
        update(TotpCredential)
        .where(
            TotpCredential.user_id == user_id,
            TotpCredential.enabled_at.is_not(None),
            or_(TotpCredential.last_used_step.is_(None), TotpCredential.last_used_step < step),
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(await session.execute(statement)) > 0


async def delete_credential(session: AsyncSession, user_id: int) -> None:
    """Remove the credential and the recovery codes: two-factor authentication is off."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    await session.execute(delete(TotpCredential).where(TotpCredential.user_id == user_id))


async def replace_recovery_codes(session: AsyncSession, *, user_id: int, digests: Iterable[bytes]) -> None:
    """The user's recovery codes are these, and only these: the earlier ones, used or not, are deleted."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    session.add_all(RecoveryCode(user_id=user_id, code_hash=digest) for digest in digests)
    await session.flush()


async def use_recovery_code(session: AsyncSession, *, user_id: int, digest: bytes, now: datetime) -> bool:
    """Spend the user's unused recovery code with this digest; False if there is none (unknown, or used)."""
    statement = (
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.code_hash == digest, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(await session.execute(statement)) > 0


async def recovery_code_was_used(session: AsyncSession, *, user_id: int, digest: bytes) -> bool:
    """Whether the user has this recovery code, used: told apart from an unknown code in the security log only."""
    statement = select(RecoveryCode.id).where(
        RecoveryCode.user_id == user_id, RecoveryCode.code_hash == digest, RecoveryCode.used_at.is_not(None)
    )
    return (await session.execute(statement)).first() is not None


async def count_unused_recovery_codes(session: AsyncSession, user_id: int) -> int:
    statement = (
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return (await session.execute(statement)).scalar_one()
