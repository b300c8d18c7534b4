"""The HTTP side of sessions: what issuing them takes, the client a login records, and the cookies of browser
clients (FORGE_AUTH_COOKIES).

With cookies on, the refresh token also travels as an `HttpOnly`, `Secure`, `SameSite=Lax` cookie whose path is the
auth endpoints' (`/api/v1/auth`): script cannot read it, and no other endpoint receives it. A cookie is sent by the
browser whoever caused the request, so a refresh or logout authenticated by it must also carry the session's CSRF
token in `X-CSRF-Token`: a value a cross-site page cannot know, delivered in a cookie that script *can* read
(`Path=/`, optionally for a parent domain) and in the `X-CSRF-Token` header of the login and refresh answers. The
token is a keyed tag of the session (sessions.service.csrf_token), so a cookie planted by a sibling host cannot
forge one. Access tokens never travel in cookies, so no other endpoint is cookie-authenticated.
"""

from typing import Annotated

from fastapi import Depends, Request, Response

from app.config import API_PREFIX, Settings
from app.core.context import AppContext, Context
from app.core.database import utcnow
from app.features.auth.dependencies import client_network
from app.features.sessions.service import (
    Client,
    IssuedTokens,
    PresentedRefreshToken,
    SessionIssuer,
    SessionPolicy,
)

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "REFRESH_COOKIE",
    "REFRESH_COOKIE_PATH",
    "IssuedTokens",
    "Issuer",
    "Policy",
    "PresentedRefreshToken",
    "SessionClient",
    "clear_session_cookies",
    "refresh_token_cookie",
    "session_client_of",
    "session_issuer_of",
    "set_session_cookies",
]

REFRESH_COOKIE = "__Secure-forge_refresh"
REFRESH_COOKIE_PATH = f"{API_PREFIX}/auth"
CSRF_COOKIE = "__Secure-forge_csrf"
CSRF_HEADER = "X-CSRF-Token"


def session_issuer_of(context: AppContext) -> SessionIssuer:
    return SessionIssuer(
        tokens=context.token_service, hasher=context.secret_hasher, policy=SessionPolicy.of(context.settings)
    )


def session_client_of(request: Request) -> Client:
    """What a new session records of its client: the User-Agent, and the network rather than the address."""
    return Client(user_agent=request.headers.get("user-agent"), network=client_network(request))


async def get_session_issuer(context: Context) -> SessionIssuer:
    return session_issuer_of(context)


async def get_session_policy(context: Context) -> SessionPolicy:
    return SessionPolicy.of(context.settings)


async def get_session_client(request: Request) -> Client:
    return session_client_of(request)


Issuer = Annotated[SessionIssuer, Depends(get_session_issuer)]
Policy = Annotated[SessionPolicy, Depends(get_session_policy)]
SessionClient = Annotated[Client, Depends(get_session_client)]


def refresh_token_cookie(request: Request, settings: Settings) -> PresentedRefreshToken | None:
    """The refresh token of the request's cookie (with cookies on), with the CSRF token the request carries."""
    if not settings.auth_cookies or not (token := request.cookies.get(REFRESH_COOKIE)):
        return None
    return PresentedRefreshToken(token, needs_csrf=True, csrf_token=request.headers.get(CSRF_HEADER))


def set_session_cookies(response: Response, issued: IssuedTokens, settings: Settings) -> None:
    """With cookies on: the refresh token's cookie and the CSRF token's (cookie and header), for the session's
    remaining absolute lifetime."""
    if not settings.auth_cookies:
        return
    max_age = max(0, int((issued.session_ends_at - utcnow()).total_seconds()))
    response.set_cookie(
        REFRESH_COOKIE,
        issued.refresh_token,
        max_age=max_age,
        path=REFRESH_COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="lax",
    )
    response.set_cookie(
        CSRF_COOKIE,
        issued.csrf_token,
        max_age=max_age,
        path="/",
        domain=settings.auth_cookie_domain,
        secure=True,
        httponly=False,  # read by the single-page app's script, which sends it back in X-CSRF-Token
        samesite="lax",
    )
    response.headers[CSRF_HEADER] = issued.csrf_token


def clear_session_cookies(response: Response, settings: Settings) -> None:
    if not settings.auth_cookies:
        return
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=True, httponly=True, samesite="lax")
    response.delete_cookie(
        CSRF_COOKIE, path="/", domain=settings.auth_cookie_domain, secure=True, httponly=False, samesite="lax"
    )
