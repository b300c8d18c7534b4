"""API keys in the admin console: a user's keys (search by the user's id), never their secrets (only the stored
hint), and revocation through this feature's service, recorded in the audit trail."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette_admin import DateTimeField, IntegerField, StringField, row_action
from starlette_admin.filters import FilterGroup

from app.core.audit import Audit
from app.features.api_keys import service
from app.features.api_keys.schemas import ApiKeyRead
from app.shared.console import ConsoleSection, ServiceView, integer_pk, pair_pk, read_session

__all__ = ["section"]


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A key as the console lists it; its id in the console is `<user>-<key>`, as a key is looked up by its owner."""

    id: str
    user_id: int
    name: str
    hint: str
    scopes: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, user_id: int, key: ApiKeyRead) -> "KeyRow":
        return cls(
            id=f"{user_id}-{key.id}",
            user_id=user_id,
            name=key.name,
            hint=key.hint,
            scopes=", ".join(scope.value for scope in key.scopes),
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
            created_at=key.created_at,
        )


async def _revoked_at(session: AsyncSession, user_id: int, key_id: int) -> datetime | None:
    keys = await service.list_keys(session, user_id=user_id)
    return next((key.revoked_at for key in keys if key.id == key_id), None)


class ApiKeysView(ServiceView):
    key = "api-keys"
    menu_label = "API keys"
    display_name = "API key"
    icon = "fa fa-key"
    pk_attr = "id"
    fields = (
        StringField("id", label="ID"),
        IntegerField("user_id", label="User"),
        StringField("name"),
        StringField("hint", label="Ends with"),
        StringField("scopes"),
        DateTimeField("created_at"),
        DateTimeField("last_used_at", label="Last used"),
        DateTimeField("expires_at", label="Expires"),
        DateTimeField("revoked_at", label="Revoked"),
    )
    searchable_fields = ("user_id",)
    sortable_fields = ()

    def can_create(self, request: Request) -> bool:
        return False  # a key's secret is shown once, to its owner: keys are issued through the API or the CLI

    def can_edit(self, request: Request) -> bool:
        return False

    def can_delete(self, request: Request) -> bool:
        return False

    async def _keys(self, request: Request, q: str | None) -> list[KeyRow]:
        user_id = integer_pk(q) if q else None
        if user_id is None:
            return []  # a user's keys: search by the user's id
        async with read_session(request) as session:
            return [KeyRow.of(user_id, key) for key in await service.list_keys(session, user_id=user_id)]

    async def find_all(
        self,
        request: Request,
        skip: int = 0,
        limit: int = 100,
        q: str | None = None,
        sorts: Sequence[tuple[str, str]] | None = None,
        filters: FilterGroup | None = None,
    ) -> Sequence[KeyRow]:
        return (await self._keys(request, q))[skip : skip + limit]

    async def count(self, request: Request, q: str | None = None, filters: FilterGroup | None = None) -> int:
        return len(await self._keys(request, q))

    async def find_by_pk(self, request: Request, pk: Any) -> KeyRow | None:
        ids = pair_pk(pk)
        if ids is None:
            return None
        return next((row for row in await self._keys(request, str(ids[0])) if row.id == str(pk)), None)

    async def is_row_action_allowed_for_obj(self, request: Request, name: str, obj: Any) -> bool:
        if name == "revoke":
            return obj.revoked_at is None
        return await super().is_row_action_allowed_for_obj(request, name, obj)

    @row_action(name="revoke", text="Revoke", confirmation="Revoke this key? It stops working at once.")
    async def revoke(self, request: Request, pk: Any) -> str:
        user_id, key_id = pair_pk(pk) or (0, 0)

        async def revoke(session: AsyncSession, audit: Audit) -> None:
            # The service revokes a user's own key, which is no admin action and so records none: the console does.
            before = await _revoked_at(session, user_id, key_id)
            await service.revoke(session, user_id=user_id, key_id=key_id)
            await audit.record(
                session,
                action="api_key.revoke",
                target_type="api_key",
                target_id=key_id,
                before={"revoked_at": before},
                after={"revoked_at": await _revoked_at(session, user_id, key_id)},
            )

        await self.act(request, "revoke", str(pk), revoke)
        return "The key is revoked."


section = ConsoleSection(views=(ApiKeysView,))
