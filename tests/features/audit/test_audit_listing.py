"""GET /api/v1/admin/audit: the trail newest first, filtered by actor, target, action and time, paged; for admins
only (SQLite and PostgreSQL)."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import API_PREFIX
from app.features.audit.models import AuditEntry
from tests import helpers
from tests.support.auth import assert_problem

AUDIT = f"{API_PREFIX}/admin/audit"
# Actors no other test uses: entries committed by other tests' servers never match these filters.
ALICE, BOB = 2_000_001, 2_000_002
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _seed(session: AsyncSession) -> list[int]:
    """Five entries an hour apart, oldest first: ids."""
    rows = [
        AuditEntry(
            occurred_at=START + timedelta(hours=hour),
            actor_user_id=actor,
            actor_api_key_id=7 if actor == BOB else None,
            action=action,
            target_type=target_type,
            target_id=target_id,
            request_id=f"request-{hour:04d}",
            before=None,
            after={"n": hour},
        )
        for hour, (actor, action, target_type, target_id) in enumerate(
            [
                (ALICE, "product.create", "product", "1"),
                (ALICE, "product.update", "product", "1"),
                (BOB, "job.retry", "job", "1"),
                (BOB, "product.update", "product", "2"),
                (ALICE, "user.update", "user", "5"),
            ]
        )
    ]
    session.add_all(rows)
    await session.commit()
    return [row.id for row in rows]


async def _ids(client: httpx.AsyncClient, admin: helpers.Headers, **params: str | int) -> list[int]:
    response = await client.get(AUDIT, params=params, headers=admin)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_entries_are_filtered_newest_first(
    client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession
) -> None:
    first, second, third, fourth, fifth = await _seed(db_session)
    assert await _ids(client, admin, actor_user_id=ALICE) == [fifth, second, first]
    assert await _ids(client, admin, actor_user_id=BOB, action="product.update") == [fourth]
    assert await _ids(client, admin, target_type="product", target_id="1") == [second, first]
    assert await _ids(client, admin, target_type="job") == [third]
    since, until = (START + timedelta(hours=1)).isoformat(), (START + timedelta(hours=3)).isoformat()
    assert await _ids(client, admin, since=since, until=until) == [third, second]  # until is exclusive
    assert await _ids(client, admin, actor_user_id=ALICE, since=since) == [fifth, second]

    [entry] = (await client.get(AUDIT, params={"target_type": "job"}, headers=admin)).json()["items"]
    assert entry == {
        "id": third,
        "occurred_at": "2026-03-01T14:00:00Z",
        "actor_user_id": BOB,
        "actor_api_key_id": 7,
        "action": "job.retry",
        "target_type": "job",
        "target_id": "1",
        "request_id": "request-0002",
        "before": None,
        "after": {"n": 2},
    }


async def test_entries_are_paged(client: httpx.AsyncClient, admin: helpers.Headers, db_session: AsyncSession) -> None:
    first, second, _, _, fifth = await _seed(db_session)
    page = (await client.get(AUDIT, params={"actor_user_id": ALICE, "size": 2, "page": 2}, headers=admin)).json()
    assert ([item["id"] for item in page["items"]], page["total"], page["pages"], page["page"]) == ([first], 3, 2, 2)
    assert await _ids(client, admin, actor_user_id=ALICE, size=2) == [fifth, second]


@pytest.mark.parametrize(
    "params",
    [
        {"size": 0},
        {"since": "2026-03-01T12:00:00"},  # no offset: which time would it be?
        {"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
        {"actor_user_id": "abc"},
        {"action": "x" * 101},
    ],
    ids=["size", "naive-time", "empty-range", "actor", "long-action"],
)
async def test_bad_filters_are_422(client: httpx.AsyncClient, admin: helpers.Headers, params: dict[str, str]) -> None:
    helpers.problem(await client.get(AUDIT, params=params, headers=admin), 422, "validation-error")


async def test_only_admins_read_the_trail(client: httpx.AsyncClient, user: helpers.Headers) -> None:
    assert_problem(await client.get(AUDIT, headers=user), 403, slug="forbidden")
    assert_problem(await client.get(AUDIT), 401, slug="unauthenticated")
