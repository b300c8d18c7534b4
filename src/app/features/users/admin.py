"""The users' pages in the admin console: accounts found by e-mail address; activated, deactivated (which revokes
their sessions), made administrators or users, and signed out everywhere, all through this feature's service and
its rules (an administrator cannot demote or deactivate themselves)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette_admin import (
    BooleanField,
    DateTimeField,
    EmailField,
    EnumField,
    IntegerField,
    StringField,
    link_row_action,
    row_action,
)
from starlette_admin.filters import FilterGroup

from app.core.audit import Audit
from app.core.context import context_of
from app.core.exceptions import NotFoundError
from app.features.users import service
from app.features.users.models import UserRole
from app.features.users.schemas import UserAdminUpdate, UserRead
from app.shared.console import ConsoleSection, ServiceView, integer_pk, page_of, read_session

__all__ = ["section"]


class UsersView(ServiceView):
    key = "users"
    menu_label = "Users"
    display_name = "User"
    icon = "fa fa-users"
    pk_attr = "id"
    fields = (
        IntegerField("id", label="ID"),
        EmailField("email", label="E-mail address"),
        StringField("full_name", label="Name"),
        # Encrypted at rest: on the account's own page, never in the list.
        StringField("phone", exclude_from_list=True),
        EnumField("role", enum=UserRole),
        BooleanField("is_active", label="Active"),
        BooleanField("email_verified", label="Verified"),
        DateTimeField("created_at", label="Joined"),
    )
    searchable_fields = ("email",)
    sortable_fields = ()

    def can_create(self, request: Request) -> bool:
        return False  # accounts are made by signing up, or by `forge users create-admin`

    def can_edit(self, request: Request) -> bool:
        return False  # role and activity are actions, each with its rule

    def can_delete(self, request: Request) -> bool:
        return False

    async def repr(self, obj: Any, request: Request) -> str:
        return str(obj.email)

    async def find_all(
        self,
        request: Request,
        skip: int = 0,
        limit: int = 100,
        q: str | None = None,
        sorts: Sequence[tuple[str, str]] | None = None,
        filters: FilterGroup | None = None,
    ) -> Sequence[UserRead]:
        async with read_session(request) as session:
            page = await service.list_users(session, params=page_of(skip, limit), email_contains=q or None)
        return page.items

    async def count(self, request: Request, q: str | None = None, filters: FilterGroup | None = None) -> int:
        async with read_session(request) as session:
            return await service.count_users(session, email_contains=q or None)

    async def find_by_pk(self, request: Request, pk: Any) -> UserRead | None:
        user_id = integer_pk(pk)
        if user_id is None:
            return None
        async with read_session(request) as session:
            try:
                return UserRead.model_validate(await service.get_user(session, user_id=user_id))
            except NotFoundError:
                return None

    async def is_row_action_allowed_for_obj(self, request: Request, name: str, obj: Any) -> bool:
        shown: dict[str, bool] = {
            "activate": not obj.is_active,
            "deactivate": obj.is_active,
            "make_admin": obj.role is not UserRole.ADMIN,
            "make_user": obj.role is UserRole.ADMIN,
        }
        if name in shown:
            return shown[name]
        return await super().is_row_action_allowed_for_obj(request, name, obj)

    async def _update(self, request: Request, pk: Any, name: str, changes: UserAdminUpdate) -> None:
        context = context_of(request)
        user_id = integer_pk(pk) or 0
        policy = service.SessionPolicy.of(context.settings)

        async def update(session: AsyncSession, audit: Audit) -> None:
            await service.update_user(session, user_id=user_id, changes=changes, policy=policy, audit=audit)

        await self.act(request, name, str(pk), update)

    @row_action(name="activate", text="Activate", confirmation="Let this account sign in again?")
    async def activate(self, request: Request, pk: Any) -> str:
        await self._update(request, pk, "activate", UserAdminUpdate(is_active=True))
        return "The account is active."

    @row_action(
        name="deactivate",
        text="Deactivate",
        confirmation="Deactivate this account? Its sessions are revoked at once.",
        icon_class="fa fa-user-slash",
    )
    async def deactivate(self, request: Request, pk: Any) -> str:
        await self._update(request, pk, "deactivate", UserAdminUpdate(is_active=False))
        return "The account is deactivated and signed out everywhere."

    @row_action(name="make_admin", text="Make administrator", confirmation="Make this account an administrator?")
    async def make_admin(self, request: Request, pk: Any) -> str:
        await self._update(request, pk, "make_admin", UserAdminUpdate(role=UserRole.ADMIN))
        return "The account is an administrator."

    @row_action(name="make_user", text="Make ordinary user", confirmation="Take this account's administration?")
    async def make_user(self, request: Request, pk: Any) -> str:
        await self._update(request, pk, "make_user", UserAdminUpdate(role=UserRole.USER))
        return "The account is an ordinary user."

    @link_row_action(name="sessions", text="Sessions", icon_class="fa fa-right-to-bracket")
    def sessions(self, request: Request, pk: Any) -> str:
        """The user's live sessions, each to revoke on its own (the sessions feature's page)."""
        return str(request.url_for("admin:list", key="sessions").include_query_params(q=str(pk)))

    @link_row_action(name="api_keys", text="API keys", icon_class="fa fa-key")
    def api_keys(self, request: Request, pk: Any) -> str:
        """The user's API keys (the API keys feature's page)."""
        return str(request.url_for("admin:list", key="api-keys").include_query_params(q=str(pk)))

    @row_action(
        name="revoke_sessions",
        text="Sign out everywhere",
        confirmation="Revoke every session of this account (its console sessions too)?",
        icon_class="fa fa-right-from-bracket",
    )
    async def revoke_sessions(self, request: Request, pk: Any) -> str:
        user_id = integer_pk(pk) or 0
        policy = service.SessionPolicy.of(context_of(request).settings)

        async def revoke(session: AsyncSession, audit: Audit) -> int:
            return await service.admin_revoke_sessions(session, user_id=user_id, policy=policy, audit=audit)

        return f"{await self.act(request, 'revoke_sessions', str(pk), revoke)} session(s) revoked."


section = ConsoleSection(views=(UsersView,))
