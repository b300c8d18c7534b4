"""Who may call an operation: read off a built-in route's dependencies (`Authorized(scope)`, `AdminUser`,
`CurrentUser`), or off the OpenAPI operation for those served by a catch-all route (dynamic endpoints), whose
security requirements name the API-key scope and whose `x-forge-admin` marks the admins' operations."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.features.auth.dependencies import AdminUser, Authorized, Grants, api_key_scheme, bearer_scheme
from app.shared.routing import ADMIN_EXTENSION

__all__ = ["PUBLIC", "Access", "operation_access", "route_access"]

_REQUIRE_ADMIN = get_args(AdminUser)[1].dependency


@dataclass(frozen=True, slots=True)
class Access:
    """`public`: anyone may call it. Otherwise a bearer token (admins' only when `admin`) may, and an API key may
    when it carries `scope` (never when `scope` is None)."""

    public: bool = False
    scope: str | None = None
    admin: bool = False

    def allows(self, grants: Grants) -> bool:
        return self.public or grants.allows(scope=self.scope, admin=self.admin)


PUBLIC = Access(public=True)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def route_access(route: APIRoute) -> Access:
    scope: str | None = None
    admin = signed_in = False
    for call in _calls(route.dependant):
        if isinstance(call, Authorized):
            scope = str(call.scope)
            admin = admin or call.admin
        elif call is _REQUIRE_ADMIN:
            admin = True
        elif call is bearer_scheme:  # CurrentUser and everything built on it, Authorized included
            signed_in = True
    if not signed_in:
        return PUBLIC
    return Access(scope=scope, admin=admin)


def operation_access(operation: Mapping[str, Any]) -> Access:
    requirements: list[dict[str, list[str]]] = operation.get("security") or []
    if not requirements:
        return PUBLIC
    key_scheme = api_key_scheme.scheme_name
    scope = next(
        (
            roles[0]
            for requirement in requirements
            for name, roles in requirement.items()
            if name == key_scheme and roles
        ),
        None,
    )
    return Access(scope=scope, admin=bool(operation.get(ADMIN_EXTENSION)))
