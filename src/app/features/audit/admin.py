"""The audit trail in the admin console, read-only: every admin action (console and API alike), newest first,
filtered as `GET /api/v1/admin/audit` filters it (by administrator, action, target and time), each with the fields it
changed before and after (secrets and encrypted values already masked when recorded)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.status import HTTP_400_BAD_REQUEST
from starlette_admin import DateTimeField, IntegerField, JSONField, StringField
from starlette_admin.filters import FilterGroup

from app.core.problems import error_message
from app.features.audit import service
from app.features.audit.schemas import AuditEntryRead, AuditFilters
from app.shared.console import (
    UNSEARCHED,
    Between,
    ConsoleSection,
    NumberIs,
    ServiceView,
    TextIs,
    integer_pk,
    page_of,
    read_session,
    rules_of,
)

__all__ = ["section"]

_SHOWN_CHANGES = 120  # characters of the list's summary of what changed


@dataclass(frozen=True, slots=True)
class AuditRow:
    """An entry as the console shows it: the recorded fields, and a line saying what changed, for the list."""

    id: int
    occurred_at: datetime
    actor_user_id: int
    actor_api_key_id: int | None
    action: str
    target_type: str
    target_id: str
    request_id: str | None
    changes: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, entry: AuditEntryRead) -> "AuditRow":
        return cls(**entry.model_dump(), changes=_changes(entry.before, entry.after))


def _changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """`price: 12.50 -> 11.00, quantity: 3 -> 2`: each field with its value before and after (a creation or a
    deletion shows one side)."""
    names = list(dict.fromkeys([*(before or {}), *(after or {})]))
    parts = [
        f"{name}: {(before or {}).get(name)} -> {(after or {}).get(name)}"
        if before is not None and after is not None
        else f"{name}: {(after if after is not None else before or {}).get(name)}"
        for name in names
    ]
    text = ", ".join(parts)
    return text if len(text) <= _SHOWN_CHANGES else text[: _SHOWN_CHANGES - 3] + "..."


def _utc(value: Any) -> datetime | None:
    """A time the browser's picker gave (no offset: read as UTC)."""
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def filters_of(filters: FilterGroup | None) -> AuditFilters:
    """The API's filters for the list's rules, validated as the API validates its query (400 with its words)."""
    rules = rules_of(filters)
    values: dict[str, Any] = {
        name: rules[name].value for name in ("actor_user_id", "action", "target_type", "target_id") if name in rules
    }
    if "occurred_at" in rules:
        values["since"] = _utc(rules["occurred_at"].value)
        values["until"] = _utc(rules["occurred_at"].value2)
    try:
        return AuditFilters.model_validate(values)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'filter'}: {error_message(e)}" for e in exc.errors())
        raise HTTPException(HTTP_400_BAD_REQUEST, detail) from None


class AuditView(ServiceView):
    key = "audit"
    menu_label = "Audit trail"
    display_name = "Audit entry"
    icon = "fa fa-clipboard-list"
    pk_attr = "id"
    fields = (
        IntegerField("id", label="ID"),
        DateTimeField("occurred_at", label="When", filters=[Between]),
        IntegerField("actor_user_id", label="Administrator", filters=[NumberIs]),
        IntegerField("actor_api_key_id", label="With API key", exclude_from_list=True),
        StringField("action", filters=[TextIs]),
        StringField("target_type", label="Target", filters=[TextIs]),
        StringField("target_id", label="Target ID", filters=[TextIs]),
        StringField("changes", exclude_from_detail=True),
        JSONField("before", exclude_from_list=True),
        JSONField("after", exclude_from_list=True),
        StringField("request_id", label="Request", exclude_from_list=True),
    )
    searchable_fields = ("occurred_at", "actor_user_id", "action", "target_type", "target_id")  # the filter builder's
    sortable_fields = ()
    list_template = UNSEARCHED

    def can_create(self, request: Request) -> bool:
        return False  # append-only: entries are made by the actions they record, and never changed or deleted

    def can_edit(self, request: Request) -> bool:
        return False

    def can_delete(self, request: Request) -> bool:
        return False

    async def repr(self, obj: Any, request: Request) -> str:
        return f"{obj.action} of {obj.target_type} {obj.target_id}"

    async def find_all(
        self,
        request: Request,
        skip: int = 0,
        limit: int = 100,
        q: str | None = None,
        sorts: Sequence[tuple[str, str]] | None = None,
        filters: FilterGroup | None = None,
    ) -> Sequence[AuditRow]:
        chosen = filters_of(filters)
        async with read_session(request) as session:
            page = await service.list_entries(session, params=page_of(skip, limit), filters=chosen)
        return [AuditRow.of(entry) for entry in page.items]

    async def count(self, request: Request, q: str | None = None, filters: FilterGroup | None = None) -> int:
        chosen = filters_of(filters)
        async with read_session(request) as session:
            return await service.count_entries(session, filters=chosen)

    async def find_by_pk(self, request: Request, pk: Any) -> AuditRow | None:
        entry_id = integer_pk(pk)
        if entry_id is None:
            return None
        async with read_session(request) as session:
            entry = await service.find_entry(session, entry_id=entry_id)
        return None if entry is None else AuditRow.of(entry)


section = ConsoleSection(views=(AuditView,))
