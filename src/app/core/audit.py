"""The audit trail's vocabulary, which any feature may name (docs/security.md#audit-trail).

- `Actor`: who acts, an administrator's user id and, when they act through an API key, the key's id;
- `AuditTrail`: where admin actions go, with `append(session, action)`; the audit feature's `AuditLog`, which the
  app puts on `AppContext.audit` (core cannot import a feature, so it names only this protocol);
- `Audit`: a trail bound to an actor. A service given one records its admin action with `audit.record(...)`, in the
  caller's session: the row commits with the action or rolls back with it, never one without the other;
- `snapshot` and `changes`: the before and after of the fields that changed, masked where they hold secrets.

Masking: a field whose name says it holds a secret, read as the logs' redaction reads names (`secret`,
`password`, `token`, `api_key`...; not `api_key_id`), and a `Sealed` value (`snapshot` seals every encrypted
column's) are recorded as MASK. Whether such a field changed still shows (it is listed, MASK on both sides, or None
on the side where it had no value); its value never does. Bytes are masked too: digests and blind indexes are not
for reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import inspect

from app.core.encryption import EncryptedText
from app.core.logging import REQUEST_ID, is_sensitive_name

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "MASK",
    "MAX_ACTION_LENGTH",
    "MAX_TARGET_ID_LENGTH",
    "MAX_TARGET_TYPE_LENGTH",
    "Actor",
    "AdminAction",
    "Audit",
    "AuditTrail",
    "Sealed",
    "Snapshot",
    "changes",
    "snapshot",
]

MASK = "[masked]"
# The audit_entry table's columns.
MAX_ACTION_LENGTH = 100
MAX_TARGET_TYPE_LENGTH = 50
MAX_TARGET_ID_LENGTH = 64

type Snapshot = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Sealed:
    """A value compared (did it change?) but never recorded: an encrypted column's, a secret's."""

    value: object

    def __repr__(self) -> str:
        return "Sealed(...)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who does an admin action: the administrator, and the API key they used (None with a bearer token or in the
    console)."""

    user_id: int
    api_key_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminAction:
    """One admin action as the trail stores it: `before`/`after` are already diffed, masked and JSON-ready."""

    actor: Actor
    action: str  # `<target type>.<verb>`: `product.update`, `job.retry`
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


class AuditTrail(Protocol):
    async def append(self, session: AsyncSession, action: AdminAction) -> None:
        """Add `action` to the session's transaction (flushed, so that a bad row fails the action at once)."""
        ...


@dataclass(frozen=True, slots=True)
class Audit:
    """An administrator's actions, recorded to `trail` as `actor`'s."""

    trail: AuditTrail
    actor: Actor

    async def record(
        self,
        session: AsyncSession,
        *,
        action: str,
        target_type: str,
        target_id: object,
        before: Snapshot | None = None,
        after: Snapshot | None = None,
    ) -> None:
        """Record the action in `session`'s transaction, with the request's id (None outside a request).

        `before` and `after` are the target's fields before and after (`snapshot`): a creation gives `after` alone,
        a deletion `before` alone, a change both, of which only the fields that differ are kept. Call it once the
        action has succeeded; if the transaction then fails, the record goes with it.
        """
        target = str(target_id)
        if not 0 < len(action) <= MAX_ACTION_LENGTH or not 0 < len(target_type) <= MAX_TARGET_TYPE_LENGTH:
            msg = f"an action has 1 to {MAX_ACTION_LENGTH} characters, a target type 1 to {MAX_TARGET_TYPE_LENGTH}"
            raise ValueError(msg)
        if not 0 < len(target) <= MAX_TARGET_ID_LENGTH:
            msg = f"a target id has 1 to {MAX_TARGET_ID_LENGTH} characters: {target[:80]!r}"
            raise ValueError(msg)
        shown_before, shown_after = changes(before, after)
        entry = AdminAction(
            actor=self.actor,
            action=action,
            target_type=target_type,
            target_id=target,
            before=shown_before,
            after=shown_after,
            request_id=REQUEST_ID.get(),
        )
        await self.trail.append(session, entry)


def snapshot(instance: object, fields: Iterable[str]) -> dict[str, object]:
    """The named attributes of a mapped object as they are now, each encrypted column's value `Sealed`.

    Take it before changing the object and again after: `changes` keeps what differs. The attributes must be loaded
    (an expired one would need a lazy load, which async sessions refuse).
    """
    columns = inspect(type(instance)).columns
    taken: dict[str, object] = {}
    for name in fields:
        value = getattr(instance, name)
        column = columns.get(name)
        taken[name] = Sealed(value) if column is not None and isinstance(column.type, EncryptedText) else value
    return taken


def changes(before: Snapshot | None, after: Snapshot | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """What to record of a change: with both snapshots, the fields whose values differ (a field only one has
    counts as differing, shown as None on the other side); with one, all of it. Masked, and JSON-ready."""
    if before is None or after is None:
        return _shown(before), _shown(after)
    differing = [name for name in {**before, **after} if before.get(name) != after.get(name)]
    return (
        _shown({name: before.get(name) for name in differing}),
        _shown({name: after.get(name) for name in differing}),
    )


def _shown(fields: Snapshot | None) -> dict[str, Any] | None:
    if fields is None:
        return None
    return {name: _masked(name, value) for name, value in fields.items()}


def _masked(name: str, value: object) -> Any:
    if value is None or (isinstance(value, Sealed) and value.value is None):
        return None  # that there is no value is no secret
    return MASK if is_sensitive_name(name) else _json(value)


def _json(value: object) -> Any:  # noqa: PLR0911 - one return per kind of value
    """A JSON value for `value`: exact decimals as strings (as the API writes money), times in ISO 8601."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Sealed):
        return None if value.value is None else MASK
    if isinstance(value, bytes | bytearray | memoryview):
        return MASK
    if isinstance(value, Enum):
        return _json(value.value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _masked(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(item) for item in value]
    return str(value)
