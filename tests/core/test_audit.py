"""What the audit trail records of a change: only the fields that differ, secrets (by name) and encrypted values
(by their column) masked whether or not they changed, every value JSON-ready; and the request's id."""

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import MASK, Actor, AdminAction, Audit, Sealed, changes, snapshot
from app.core.logging import REQUEST_ID
from app.features.users.models import User, UserRole


class Colour(StrEnum):
    RED = "red"


def test_a_change_keeps_only_the_fields_that_differ() -> None:
    before = {"name": "Lamp", "price": Decimal("9.90"), "quantity": 3}
    after = {"name": "Lamp", "price": Decimal("12.00"), "quantity": 3}
    assert changes(before, after) == ({"price": "9.90"}, {"price": "12.00"})
    assert changes(before, dict(before)) == ({}, {})


def test_a_field_only_one_side_has_differs() -> None:
    assert changes({"a": 1}, {"b": 2}) == ({"a": 1, "b": None}, {"a": None, "b": 2})


def test_creations_and_deletions_are_recorded_whole() -> None:
    fields = {"name": "Lamp", "quantity": 3}
    assert changes(None, fields) == (None, fields)
    assert changes(fields, None) == (fields, None)
    assert changes(None, None) == (None, None)


@pytest.mark.parametrize(
    "name", ["secret", "password", "hashed_password", "client_secret", "api_key", "refresh_token", "X-Api-Key"]
)
def test_fields_named_as_secrets_are_masked_but_their_change_shows(name: str) -> None:
    assert changes({name: "old-value"}, {name: "new-value"}) == ({name: MASK}, {name: MASK})
    assert changes(None, {name: "value"}) == (None, {name: MASK})
    assert changes({name: None}, {name: "value"}) == ({name: None}, {name: MASK})  # having none is no secret


@pytest.mark.parametrize("name", ["api_key_id", "token_type", "key_hint"])
def test_names_that_only_mention_a_secret_are_shown(name: str) -> None:
    assert changes(None, {name: 7}) == (None, {name: 7})


def test_sealed_values_and_bytes_are_masked() -> None:
    assert changes({"phone": Sealed("+4420")}, {"phone": Sealed("+4421")}) == ({"phone": MASK}, {"phone": MASK})
    assert changes({"phone": Sealed("+4420")}, {"phone": Sealed("+4420")}) == ({}, {})  # compared, not shown
    assert changes({"phone": Sealed(None)}, {"phone": Sealed("+4420")}) == ({"phone": None}, {"phone": MASK})
    assert changes(None, {"digest": b"\x00\x01", "nested": {"token": "t", "n": 1}}) == (
        None,
        {"digest": MASK, "nested": {"token": MASK, "n": 1}},
    )
    assert "+4420" not in repr(Sealed("+4420"))


def test_values_are_recorded_as_json() -> None:
    when = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
    recorded = changes(None, {"at": when, "colour": Colour.RED, "tags": ("a", "b"), "price": Decimal("0.10")})
    assert recorded == (None, {"at": "2026-12-08T09:30:00+00:00", "colour": "red", "tags": ["a", "b"], "price": "0.10"})


def test_a_snapshot_seals_encrypted_columns() -> None:
    user = User(email="a@example.com", phone="+442079460000", role=UserRole.USER, is_active=True)
    taken = snapshot(user, ["email", "phone", "role"])
    assert taken == {"email": "a@example.com", "phone": Sealed("+442079460000"), "role": UserRole.USER}
    user.phone = "+442079460001"
    assert changes(taken, snapshot(user, ["email", "phone", "role"])) == ({"phone": MASK}, {"phone": MASK})


class _Trail:
    def __init__(self) -> None:
        self.appended: list[AdminAction] = []

    async def append(self, session: AsyncSession, action: AdminAction) -> None:  # noqa: ARG002 - no database here
        self.appended.append(action)


async def test_an_action_is_recorded_with_its_actor_and_the_request_s_id() -> None:
    trail = _Trail()
    audit = Audit(trail, Actor(user_id=3, api_key_id=9))
    token = REQUEST_ID.set("req-12345678")
    try:
        await audit.record(
            AsyncSession(), action="product.update", target_type="product", target_id=4, before={"a": 1}, after={"a": 2}
        )
    finally:
        REQUEST_ID.reset(token)
    await audit.record(AsyncSession(), action="job.retry", target_type="job", target_id="5")
    first, second = trail.appended
    assert first == AdminAction(
        actor=Actor(user_id=3, api_key_id=9),
        action="product.update",
        target_type="product",
        target_id="4",
        before={"a": 1},
        after={"a": 2},
        request_id="req-12345678",
    )
    assert (second.request_id, second.before, second.after) == (None, None, None)


@pytest.mark.parametrize(
    "arguments",
    [
        {"action": "", "target_type": "job", "target_id": 1},
        {"action": "x" * 101, "target_type": "job", "target_id": 1},
        {"action": "job.retry", "target_type": "", "target_id": 1},
        {"action": "job.retry", "target_type": "job", "target_id": "x" * 65},
    ],
    ids=["no-action", "long-action", "no-target-type", "long-target-id"],
)
async def test_what_the_table_cannot_hold_is_a_programming_error(arguments: dict[str, Any]) -> None:
    trail = _Trail()
    with pytest.raises(ValueError, match="characters"):
        await Audit(trail, Actor(user_id=1)).record(AsyncSession(), **arguments)
    assert trail.appended == []
