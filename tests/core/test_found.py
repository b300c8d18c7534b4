"""`found`, the one get-or-404: a lookup's value, or NotFoundError with the detail each lookup has always given."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.exceptions import NotFoundError, found
from app.features.users import service as users_service
from tests import helpers
from tests.helpers import problem
from tests.support.dynamic_endpoints import ADMIN_ENDPOINTS, collection, create

MISSING = 999_999


@pytest.mark.parametrize("value", [0, "", [], False, "row"])
def test_what_a_lookup_found_is_returned_even_when_falsy(value: object) -> None:
    assert found(value, "unused") is value


def test_nothing_found_is_a_404_with_the_detail() -> None:
    with pytest.raises(NotFoundError) as raised:
        found(None, "Thing 7 does not exist.")

    assert raised.value.status == 404
    assert raised.value.detail == "Thing 7 does not exist."


async def test_each_lookup_answers_404_with_the_detail_clients_read(
    client: httpx.AsyncClient, admin: helpers.Headers
) -> None:
    await create(client, admin, collection())
    answers = {
        "User 999999 does not exist.": await client.patch(
            f"/api/v1/users/{MISSING}", json={"is_active": False}, headers=admin
        ),
        "API key 999999 does not exist.": await client.delete(f"/api/v1/api-keys/{MISSING}", headers=admin),
        "Endpoint spec 999999 does not exist.": await client.get(f"{ADMIN_ENDPOINTS}/{MISSING}", headers=admin),
        "Document 999999 does not exist in /api/v1/x/books.": await client.get(f"/api/v1/x/books/{MISSING}"),
    }

    for detail, response in answers.items():
        assert problem(response, 404, "not-found")["detail"] == detail


async def test_an_unknown_email_is_not_found_by_name(db_session: AsyncSession) -> None:
    with pytest.raises(NotFoundError, match=r"^No user has the e-mail address nobody@example\.com\.$"):
        await users_service.get_user_by_email(db_session, email="nobody@example.com")
