"""The admin console driven over HTTP, as a browser's forms drive it: its CSRF token read from the page, sign-in with
an account's e-mail address and password, forms posted with (or without) the token, row actions posted as its
scripts post them, and the audit entries a console request left."""

import re
from typing import Any

import httpx
from pydantic import SecretStr

from app.core.context import AppContext
from app.features.audit.models import AuditEntry
from app.features.users import service as users_service
from app.features.users.models import UserRole
from app.features.users.schemas import UserCreate
from tests.helpers import PASSWORD, unique_email
from tests.support.audit import entries

__all__ = ["CONSOLE_URL", "account", "audit_entries", "csrf_token", "post_form", "row_action", "sign_in"]

# The console's cookie is Secure outside development: an https client sends it back.
CONSOLE_URL = "https://testserver"
_CSRF_INPUT = re.compile(r'name="csrftoken" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The signed CSRF token of a console page's forms."""
    match = _CSRF_INPUT.search(html)
    assert match is not None, html[:2000]
    return match.group(1)


async def account(context: AppContext, *, role: UserRole = UserRole.ADMIN, email: str | None = None) -> str:
    """An account committed through the app's own database (the console's requests commit for real): its e-mail."""
    email = email or unique_email(role.value)
    data = UserCreate(email=email, password=SecretStr(PASSWORD))
    async with context.database.session(writes=True) as session, session.begin():
        await users_service.register_user(session, data=data, hasher=context.password_hasher, role=role, verified=True)
    return email


async def post_form(
    http: httpx.AsyncClient, page: str, data: dict[str, Any], *, action: str | None = None, csrf: bool = True
) -> httpx.Response:
    """Open `page`, then post `data` to `action` (the page itself by default) with the page's CSRF token, or without."""
    opened = await http.get(page)
    assert opened.status_code == 200, opened.text[:2000]
    fields = {**data, "csrftoken": csrf_token(opened.text)} if csrf else dict(data)
    return await http.post(action or page, data=fields)


async def sign_in(http: httpx.AsyncClient, email: str, *, password: str = PASSWORD, code: str = "") -> httpx.Response:
    """Sign in to the console; the answer (a 303 to the console when it worked)."""
    return await post_form(http, "/admin/login", {"email": email, "password": password, "code": code})


async def row_action(http: httpx.AsyncClient, view: str, name: str, pk: object) -> httpx.Response:
    """Run a row action of `view`'s list, as its script does (the CSRF token in a header)."""
    await http.get(f"/admin/{view}/list")  # the page that sets the CSRF cookie its script sends back
    return await http.post(
        f"/admin/_api/{view}/row-action",
        params={"name": name, "pk": str(pk)},
        headers={"X-CSRFToken": http.cookies["starlette_admin_csrftoken"]},
    )


async def audit_entries(context: AppContext, response: httpx.Response) -> list[AuditEntry]:
    """The audit entries the console request answered by `response` left (found by its request id)."""
    async with context.database.session(writes=False) as session:
        return await entries(session, request_id=response.headers["x-request-id"])
