"""The admin console driven over HTTP, as a browser's forms drive it: its CSRF token read from the page, sign-in with
an account's e-mail address and password, forms posted with (or without) the token."""

import re
from typing import Any

import httpx
from pydantic import SecretStr

from app.core.context import AppContext
from app.features.users import service as users_service
from app.features.users.models import UserRole
from app.features.users.schemas import UserCreate
from tests.helpers import PASSWORD, unique_email

__all__ = ["CONSOLE_URL", "account", "csrf_token", "post_form", "sign_in"]

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
