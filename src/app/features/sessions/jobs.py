"""The sessions' housekeeping job: `sessions.purge`, daily, deletes the sessions that ended over a week ago.

A login deletes its user's ended sessions too, but a user who never logs in again would keep theirs for ever.
"""

import structlog
from pydantic import BaseModel

from app.core.jobs import Cron, JobContext, JobType, Periodic
from app.features.sessions import service

__all__ = ["DAILY_PURGE", "PURGE", "PurgeSessions"]

_log = structlog.get_logger("app.sessions")


class PurgeSessions(BaseModel):
    """No parameters: what to delete follows from the settings' lifetimes."""


async def _purge(_payload: PurgeSessions, context: JobContext) -> None:
    async with context.database.session(writes=True) as session, session.begin():
        purged = await service.purge_ended(session, policy=service.SessionPolicy.of(context.settings))
    _log.info("sessions_purged", count=purged)


PURGE = JobType(name="sessions.purge", payload=PurgeSessions, handler=_purge, timeout_seconds=600, max_attempts=3)
DAILY_PURGE = Periodic(job_type=PURGE, schedule=Cron("20 3 * * *"), payload=PurgeSessions())
