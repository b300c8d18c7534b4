"""A user's sessions in the admin console: their live sessions (search by the user's id), each revoked on its own
through this feature's service, as the user can revoke it; the console session of the administrator looking is
marked. Never a token: only when, from which network and with which browser."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette_admin import BooleanField, DateTimeField, IntegerField, StringField, row_action
from starlette_admin.filters import FilterGroup

from app.core.audit import Audit
from app.core.context import context_of
from app.core.pagination import PageParams
from app.features.sessions import service
from app.features.sessions.schemas import SessionRead
from app.shared.console import ConsoleSection, ServiceView, admin_of, integer_pk, page_of, pair_pk, read_session

__all__ = ["section"]


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A session as the console lists it; its id in the console is `<user>-<session>`, as a session is looked up by
    its user."""

    id: str
    user_id: int
    session_id: int
    this_console: bool
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    client_network: str | None

    @classmethod
    def of(cls, user_id: int, row: SessionRead) -> "SessionRow":
        return cls(
            id=f"{user_id}-{row.id}",
            user_id=user_id,
            session_id=row.id,
            this_console=row.current,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            user_agent=row.user_agent,
            client_network=row.client_network,
        )


class SessionsView(ServiceView):
    key = "sessions"
    menu_label = "Sessions"
    display_name = "Session"
    icon = "fa fa-right-to-bracket"
    pk_attr = "id"
    fields = (
        StringField("id", label="ID"),
        IntegerField("user_id", label="User"),
        BooleanField("this_console", label="This console"),
        DateTimeField("created_at", label="Signed in"),
        DateTimeField("last_used_at", label="Last used"),
        DateTimeField("expires_at", label="Ends"),
        StringField("client_network", label="Network"),
        StringField("user_agent", label="Browser"),
    )
    searchable_fields = ("user_id",)
    sortable_fields = ()

    def can_create(self, request: Request) -> bool:
        return False  # a session starts with its user's sign-in

    def can_edit(self, request: Request) -> bool:
        return False

    def can_delete(self, request: Request) -> bool:
        return False  # revoked, not deleted: the row stays until the daily purge

    async def repr(self, obj: Any, request: Request) -> str:
        return f"Session {obj.session_id} of user {obj.user_id}"

    async def _sessions(self, request: Request, q: str | None, params: PageParams) -> tuple[list[SessionRow], int]:
        user_id = integer_pk(q) if q else None
        if user_id is None:
            return [], 0  # a user's sessions: search by the user's id
        policy = service.SessionPolicy.of(context_of(request).settings)
        current = admin_of(request).session_id
        async with read_session(request) as session:
            page = await service.list_sessions(session, user_id=user_id, current=current, policy=policy, params=params)
        return [SessionRow.of(user_id, row) for row in page.items], page.total or 0

    async def find_all(
        self,
        request: Request,
        skip: int = 0,
        limit: int = 100,
        q: str | None = None,
        sorts: Sequence[tuple[str, str]] | None = None,
        filters: FilterGroup | None = None,
    ) -> Sequence[SessionRow]:
        return (await self._sessions(request, q, page_of(skip, limit)))[0]

    async def count(self, request: Request, q: str | None = None, filters: FilterGroup | None = None) -> int:
        return (await self._sessions(request, q, PageParams(size=1)))[1]

    async def find_by_pk(self, request: Request, pk: Any) -> SessionRow | None:
        ids = pair_pk(pk)
        if ids is None:
            return None
        user_id, session_id = ids
        policy = service.SessionPolicy.of(context_of(request).settings)
        current = admin_of(request).session_id
        async with read_session(request) as session:
            found = await service.find_session(
                session, user_id=user_id, session_id=session_id, current=current, policy=policy
            )
        return None if found is None else SessionRow.of(user_id, found)

    @row_action(
        name="revoke",
        text="Revoke",
        confirmation="Revoke this session? Its tokens stop working at once.",
        icon_class="fa fa-ban",
        submit_btn_text="Yes, revoke it",
    )
    async def revoke(self, request: Request, pk: Any) -> str:
        user_id, session_id = pair_pk(pk) or (0, 0)
        policy = service.SessionPolicy.of(context_of(request).settings)

        async def revoke(session: AsyncSession, audit: Audit) -> None:
            # The service revokes a session as its user would, which is no admin action and records none: the
            # console records it, as the users service records "sign out everywhere" (user.revoke_sessions).
            await service.revoke(session, user_id=user_id, session_id=session_id, policy=policy, reason="admin")
            await audit.record(
                session,
                action="user.revoke_session",
                target_type="user",
                target_id=user_id,
                after={"session_id": session_id},
            )

        await self.act(request, "revoke", str(pk), revoke)
        return "The session is revoked."


section = ConsoleSection(views=(SessionsView,))
