from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse

from app.core.context import Context
from app.core.database import DBSession, WritingDBSession
from app.core.identifiers import ResourceID
from app.features.auth.dependencies import CurrentUser, authentication_attempt
from app.features.oidc import service
from app.features.oidc.dependencies import (
    FLOW_COOKIE,
    Providers,
    callback_url,
    clear_flow_cookie,
    failed,
    landing,
    set_flow_cookie,
)
from app.features.oidc.errors import SignInFailedError
from app.features.oidc.schemas import AuthorizationRedirect, CodeExchange, IdentityRead, ProviderRead, ProvidersRead
from app.features.sessions.dependencies import Issuer, SessionClient
from app.features.users.dependencies import answer_login
from app.features.users.schemas import LoginAnswer
from app.shared.ratelimit import RateLimit
from app.shared.routing import ForgeRoute

__all__ = ["identities_router", "router"]

router = APIRouter(prefix="/auth", tags=["auth"], route_class=ForgeRoute)
# Served before the users' routes, as the sessions' are: /users/me/... must not be taken for /users/{user_id}/....
identities_router = APIRouter(prefix="/users/me/identities", tags=["users"], route_class=ForgeRoute)

RedirectTo = Annotated[
    str | None, Query(description="A path under FORGE_FRONTEND_URL where the browser lands afterwards (default /).")
]
_REDIRECTS: dict[int | str, dict[str, Any]] = {
    302: {"description": "To the provider; or, when the sign-in cannot start, to the frontend with `error`."}
}


@router.get("/providers")
async def list_providers(providers: Providers) -> ProvidersRead:
    """The configured sign-in providers, for the login page's buttons (public)."""
    return ProvidersRead(
        providers=[ProviderRead(name=p.name, display_name=p.display_name, kind=p.kind) for p in providers]
    )


async def _start(
    request: Request,
    *,
    provider: str,
    redirect_to: str | None,
    session: WritingDBSession,
    providers: Providers,
    context: Context,
    link_user_id: int | None = None,
) -> tuple[service.Started | None, Response | None]:
    try:
        started = await service.begin(
            session,
            provider=providers.get(provider),
            providers=providers,
            hasher=context.secret_hasher,
            redirect_to=service.landing_path(redirect_to),
            callback_url=callback_url(request, context.settings, provider),
            link_user_id=link_user_id,
        )
    except SignInFailedError as failure:
        return None, failed(failure, context.settings, provider)
    return started, None


@router.get(
    "/oidc/{provider}/login",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses=_REDIRECTS,
    dependencies=[Depends(RateLimit("login"))],
)
async def oidc_login(
    provider: str,
    request: Request,
    *,
    session: WritingDBSession,
    providers: Providers,
    context: Context,
    redirect_to: RedirectTo = None,
) -> Response:
    """Sign in with a provider: the browser goes to the provider (state, nonce, PKCE S256), then to the callback."""
    started, failure = await _start(
        request, provider=provider, redirect_to=redirect_to, session=session, providers=providers, context=context
    )
    if started is None:
        return failure  # type: ignore[return-value]
    response = RedirectResponse(started.authorization_url, status_code=status.HTTP_302_FOUND)
    set_flow_cookie(response, context.secret_hasher, started.state)
    return response


@router.get(
    "/oidc/{provider}/link",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={**_REDIRECTS, 200: {"model": AuthorizationRedirect, "description": "With `Accept: application/json`."}},
)
async def oidc_link(
    provider: str,
    request: Request,
    *,
    session: WritingDBSession,
    providers: Providers,
    context: Context,
    user: CurrentUser,
    redirect_to: RedirectTo = None,
) -> Response:
    """Link a provider's account to the signed-in user: the sign-in's flow, ending with `?linked={provider}` on the
    frontend. A script asks with `Accept: application/json` and gets the provider's URL to navigate to."""
    started, failure = await _start(
        request,
        provider=provider,
        redirect_to=redirect_to,
        session=session,
        providers=providers,
        context=context,
        link_user_id=user.id,
    )
    if started is None:
        return failure  # type: ignore[return-value]
    response: Response
    if request.headers.get("accept", "").startswith("application/json"):
        response = JSONResponse(AuthorizationRedirect(authorization_url=started.authorization_url).model_dump())
    else:
        response = RedirectResponse(started.authorization_url, status_code=status.HTTP_302_FOUND)
    set_flow_cookie(response, context.secret_hasher, started.state)
    return response


@router.get(
    "/oidc/{provider}/callback",
    name="oidc_callback",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={302: {"description": "To the frontend: `?code=` (a sign-in), `?linked=` (a link) or `?error=`."}},
)
async def oidc_callback(
    provider: str,
    request: Request,
    *,
    reads: DBSession,
    writes: WritingDBSession,
    providers: Providers,
    context: Context,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
) -> Response:
    """Where the provider sends the browser back: never an error page, always the frontend."""
    callback = service.Callback(
        state=state,
        cookie_state=service.state_of_cookie(context.secret_hasher, request.cookies.get(FLOW_COOKIE)),
        code=code,
        error=error,
        callback_url=callback_url(request, context.settings, provider),
    )
    try:
        finished = await service.finish(
            reads, writes, provider_name=provider, callback=callback, providers=providers, hasher=context.secret_hasher
        )
    except SignInFailedError as failure:
        response = failed(failure, context.settings, provider)
    else:
        response = landing(context.settings, finished.redirect_to, finished.params)
    clear_flow_cookie(response)
    return response


@router.post(
    "/oidc/exchange",
    dependencies=[Depends(RateLimit("login"))],
    responses={401: {"description": "The code is invalid, expired (60 s), used, or its account deactivated."}},
)
async def oidc_exchange(
    data: CodeExchange,
    request: Request,
    *,
    session: DBSession,
    issuer: Issuer,
    client: SessionClient,
    context: Context,
    response: Response,
) -> LoginAnswer:
    """The tokens of a provider sign-in, for its one-time code (once). With FORGE_AUTH_COOKIES the refresh token is
    also set as a cookie, with the CSRF token, as a password login sets them. For an account with two-factor
    authentication on, the answer is an MFA challenge, as after a password: `POST /auth/mfa` completes it."""
    async with authentication_attempt(request):
        outcome = await service.exchange(
            session, code=data.code, hasher=context.secret_hasher, client=client, issuer=issuer
        )
    return answer_login(outcome, response, context.settings)


@identities_router.get("")
async def list_identities(session: DBSession, user: CurrentUser) -> list[IdentityRead]:
    """The provider accounts linked to the caller."""
    return await service.list_identities(session, user_id=user.id)


@identities_router.delete(
    "/{identity_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "The account has no password and no other identity: it could not sign in."}},
)
async def unlink_identity(identity_id: ResourceID, session: DBSession, user: CurrentUser) -> None:
    """Unlink one of the caller's identities (another user's is 404)."""
    await service.unlink(session, user=user, identity_id=identity_id)
