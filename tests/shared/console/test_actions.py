"""`perform`, the road of every console change: the signed-in administrator's `Audit` handed to the change, which
commits with exactly one audit entry; a change that records none, or two, is rolled back whole (SQLite and
PostgreSQL)."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.core.audit import Audit
from app.core.context import CONTEXT_KEY, AppContext
from app.core.events import Event
from app.shared.console import ConsoleAction, ConsoleAdmin, UnauditedActionError, perform, sign_in_admin
from tests.support.audit import entries

ADMIN_ID = 41
ACTION = ConsoleAction("widgets", "polish", "7")


def _request(context: AppContext) -> Request:
    request = Request({"type": "http", "method": "POST", "path": "/admin/", "headers": [], "state": {}})
    request.scope["state"][CONTEXT_KEY] = context
    sign_in_admin(request, ConsoleAdmin(user_id=ADMIN_ID, email="admin@example.com", session_id=1))
    return request


async def _recording(times: int, session: AsyncSession, audit: Audit) -> str:
    await _write_event(session)
    for _ in range(times):
        await audit.record(session, action="widget.polish", target_type="widget", target_id=7, after={"shine": 1})
    return "done"


async def _write_event(session: AsyncSession) -> None:
    """A write of the change's own (an event), which must commit or roll back with its audit entry."""
    session.add(Event(type="widget.polished", data={"id": 7}))
    await session.flush()


async def _counts(context: AppContext) -> tuple[int, int]:
    async with context.database.session(writes=False) as session:
        events = (await session.execute(select(func.count()).select_from(Event))).scalar_one()
        return events, len(await entries(session, target_type="widget"))


@pytest.mark.usefixtures("console_client")  # its teardown empties the tables perform committed to
async def test_a_change_commits_with_its_one_entry_as_the_administrators(context: AppContext) -> None:
    result = await perform(_request(context), ACTION, lambda session, audit: _recording(1, session, audit))

    assert result == "done"
    assert await _counts(context) == (1, 1)
    async with context.database.session(writes=False) as session:
        [entry] = await entries(session, target_type="widget")
    assert (entry.actor_user_id, entry.actor_api_key_id, entry.action) == (ADMIN_ID, None, "widget.polish")


@pytest.mark.parametrize("times", [0, 2])
@pytest.mark.usefixtures("console_client")
async def test_a_change_without_exactly_one_entry_is_rolled_back(context: AppContext, times: int) -> None:
    with pytest.raises(UnauditedActionError, match=f"recorded {times} audit entries"):
        await perform(_request(context), ACTION, lambda session, audit: _recording(times, session, audit))

    assert await _counts(context) == (0, 0)
