"""The console's sign-in, sign-out and the check of every page (starlette-admin's auth provider).

Signing in is limited as the API's login is (per client and per account named, before any password is hashed), and
a wrong two-factor code spends the account's budget of wrong codes, as at POST /auth/mfa. The session's cookie is
`HttpOnly`, `SameSite=Strict`, `Secure` outside development, and sent only to /admin; starlette-admin's CSRF check
(a signed token in every form, the sign-in's and sign-out's included) runs before any of this.
"""

from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.status import HTTP_303_SEE_OTHER
from starlette.templating import Jinja2Templates
from starlette_admin.auth import AdminUser, BaseAuthProvider
from starlette_admin.helpers import index_url, safe_redirect_url

from app.config import Environment, Settings
from app.core.context import context_of
from app.core.database import committing, utcnow
from app.core.exceptions import ForgeError
from app.features.console import service
from app.features.mfa.dependencies import second_factor_attempt
from app.features.sessions.dependencies import session_client_of, session_issuer_of
from app.shared.console import CONSOLE_PATH, ConsoleAdmin, read_session, sign_in_admin
from app.shared.ratelimit import account_key, client_key, enforce

__all__ = ["COOKIE", "ConsoleSignIn"]

COOKIE = "forge_console"
_STATIC = f"{CONSOLE_PATH}/static/"


def _set_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=settings.admin_session_max_hours * 3600,
        path=CONSOLE_PATH,
        secure=settings.environment is not Environment.DEVELOPMENT,
        httponly=True,
        samesite="strict",
    )


class ConsoleSignIn(BaseAuthProvider):
    """Administrators sign in with their ForgeAPI account; every other page needs a live console session."""

    async def authenticate(self, request: Request) -> AdminUser | None:
        token = request.cookies.get(COOKIE)
        if not token or request.scope["path"].startswith(_STATIC):
            return None
        context = context_of(request)
        settings = context.settings
        async with read_session(request) as session:
            signed_in = await service.resume(
                session,
                token=token,
                hasher=context.secret_hasher,
                policy=service.SessionPolicy.of(settings),
                lifetimes=service.lifetimes_of(settings),
            )
        if signed_in is None:
            return None
        if signed_in.needs_marking:
            async with committing(context.database.session(writes=True)) as session:
                await service.mark_used(session, signed_in=signed_in)
        sign_in_admin(request, ConsoleAdmin(signed_in.user_id, signed_in.email, signed_in.session_id))
        request.state.console_signed_in = signed_in
        return AdminUser(username=signed_in.email)

    def get_routes(self, templates: Jinja2Templates) -> list[Route]:
        async def login(request: Request) -> Response:
            return await self._login(request, templates)

        return [
            Route("/login", login, methods=["GET", "POST"], name="login"),
            Route("/logout", self._logout, methods=["POST"], name="logout"),
        ]

    async def _login(self, request: Request, templates: Jinja2Templates) -> Response:
        fallback = index_url(request)
        next_url = safe_redirect_url(request.query_params.get("next") or fallback, request, fallback)
        if getattr(request.state, "console_signed_in", None) is not None:
            return RedirectResponse(next_url, status_code=HTTP_303_SEE_OTHER)
        if request.method == "GET":
            return templates.TemplateResponse(request=request, name="login.html")
        form = await request.form()
        email = str(form.get("email") or "")
        try:
            token = await self._sign_in(request, email, str(form.get("password") or ""), str(form.get("code") or ""))
        except ForgeError as refused:
            context: dict[str, Any] = {"error": refused.detail, "email": email}
            response = templates.TemplateResponse(
                request=request, name="login.html", context=context, status_code=refused.status
            )
            response.headers.update(refused.headers)
            return response
        signed_in = RedirectResponse(next_url, status_code=HTTP_303_SEE_OTHER)
        _set_cookie(signed_in, token, context_of(request).settings)
        return signed_in

    async def _sign_in(self, request: Request, email: str, password: str, code: str) -> str:
        """The session's token, or the refusal (ForgeError) the API's login would answer."""
        await enforce(request, "login", client_key(request))
        await enforce(request, "login_account", account_key(email))
        context = context_of(request)
        # The password is checked without the write lock (Argon2 takes tens of milliseconds), as the API's login does.
        async with read_session(request) as session:
            user, needs_code = await service.check_administrator(
                session, email=email, password=password, hasher=context.password_hasher
            )
        guard: AbstractAsyncContextManager[None] = (
            second_factor_attempt(request, user.id) if needs_code else nullcontext()
        )
        async with guard, committing(context.database.session(writes=True)) as session:
            issued = await service.finish_sign_in(
                session,
                user=user,
                code=code.strip() or None,
                needs_code=needs_code,
                now=utcnow(),
                client=session_client_of(request),
                issuer=session_issuer_of(context),
            )
        return issued.refresh_token

    async def _logout(self, request: Request) -> Response:
        signed_in: service.SignedIn | None = getattr(request.state, "console_signed_in", None)
        if signed_in is not None:
            async with committing(context_of(request).database.session(writes=True)) as session:
                await service.sign_out(
                    session, signed_in=signed_in, policy=service.SessionPolicy.of(context_of(request).settings)
                )
        response = RedirectResponse(request.url_for("admin:login"), status_code=HTTP_303_SEE_OTHER)
        response.delete_cookie(COOKIE, path=CONSOLE_PATH)
        return response
