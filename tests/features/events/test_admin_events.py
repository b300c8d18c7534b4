"""Admins list the recorded events, newest first, by type and page; everyone else is refused."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import API_PREFIX
from app.core.events import Events, Subscriptions
from tests import helpers

EVENTS = f"{API_PREFIX}/admin/events"


async def _recorded(session: AsyncSession, event_type: str, **data: object) -> int:
    return (await Events(Subscriptions()).record(session, event_type, dict(data))).id


async def test_admins_list_events_newest_first_by_type_and_page(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    placed = [await _recorded(db_session, "test.placed", id=n) for n in range(3)]
    cancelled = await _recorded(db_session, "test.cancelled", id=0, reason="changed my mind")

    everything = (await client.get(EVENTS, headers=admin)).json()
    assert [event["id"] for event in everything["items"]] == [cancelled, *reversed(placed)]
    assert everything["total"] == 4
    [newest, *_] = everything["items"]
    assert (newest["type"], newest["data"]) == ("test.cancelled", {"id": 0, "reason": "changed my mind"})
    assert newest["occurred_at"].endswith("Z") or "+00:00" in newest["occurred_at"]

    page = (await client.get(EVENTS, params={"type": "test.placed", "size": 2, "page": 2}, headers=admin)).json()
    assert ([event["id"] for event in page["items"]], page["total"], page["pages"]) == ([placed[0]], 3, 2)
    none = (await client.get(EVENTS, params={"type": "test.never"}, headers=admin)).json()
    assert (none["items"], none["total"]) == ([], 0)


async def test_an_impossible_type_is_refused_as_invalid_input(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    for impossible in ("", "x" * 101):
        body = helpers.problem(
            await client.get(EVENTS, params={"type": impossible}, headers=admin), 422, "validation-error"
        )
        assert body["errors"][0]["location"] == "query"


async def test_only_admins_list_events(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    helpers.problem(await client.get(EVENTS, headers=user), 403, "forbidden")
    helpers.problem(await client.get(EVENTS), 401, "unauthenticated")
