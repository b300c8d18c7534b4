"""The users' job types: mailing a password reset link (`users.password_reset`, in password_reset.py), and the daily
`users.purge_tokens`, which deletes the reset and verification tokens that expired unused (a used or voided token's
row is deleted at once)."""

import structlog
from pydantic import BaseModel

from app.core.jobs import Cron, JobContext, JobType, Periodic
from app.features.users import service
from app.features.users.password_reset import MAIL_PASSWORD_RESET

__all__ = ["DAILY_PURGE", "MAIL_PASSWORD_RESET", "PURGE_TOKENS", "PurgeTokens"]

_log = structlog.get_logger("app.users")


class PurgeTokens(BaseModel):
    """No parameters: every expired token goes."""


async def _purge_tokens(_payload: PurgeTokens, context: JobContext) -> None:
    async with context.database.session(writes=True) as session, session.begin():
        purged = await service.purge_expired_tokens(session)
    _log.info("account_tokens_purged", count=purged)


PURGE_TOKENS = JobType(
    name="users.purge_tokens", payload=PurgeTokens, handler=_purge_tokens, timeout_seconds=600, max_attempts=3
)
DAILY_PURGE = Periodic(job_type=PURGE_TOKENS, schedule=Cron("10 3 * * *"), payload=PurgeTokens())
