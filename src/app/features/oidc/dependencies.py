"""The HTTP side of provider sign-in: the configured providers, the callback URL, the flow cookie, and where the
browser lands.

The flow cookie binds a sign-in's `state` to the browser that started it: `HttpOnly` (script never reads it),
`Secure`, `SameSite=Lax` (sent on the provider's top-level redirect back, not on a cross-site subrequest), scoped to
the OIDC paths, signed, and gone after ten minutes or the callback, whichever comes first.
"""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse

from app.config import API_PREFIX, Settings
from app.core.context import Context
from app.core.opaque_tokens import SecretHasher
from app.core.security_events import SecurityEvent, record_security_event
from app.features.oidc import service
from app.features.oidc.errors import SignInFailedError
from app.features.oidc.providers import ProviderDirectory

__all__ = [
    "FLOW_COOKIE",
    "FLOW_COOKIE_PATH",
    "Providers",
    "callback_url",
    "clear_flow_cookie",
    "failed",
    "landing",
    "set_flow_cookie",
]

FLOW_COOKIE = "__Secure-forge_oidc"
FLOW_COOKIE_PATH = f"{API_PREFIX}/auth/oidc"


async def get_providers(context: Context) -> ProviderDirectory:
    return context.component(ProviderDirectory)


Providers = Annotated[ProviderDirectory, Depends(get_providers)]


def callback_url(request: Request, settings: Settings, provider: str) -> str:
    """The redirect URI registered at the provider: FORGE_OIDC_REDIRECT_BASE_URL's, or the request's own."""
    if settings.oidc_redirect_base_url is not None:
        return f"{settings.oidc_redirect_base_url}{API_PREFIX}/auth/oidc/{provider}/callback"
    return str(request.url_for("oidc_callback", provider=provider))


def landing(settings: Settings, path: str, params: dict[str, str]) -> RedirectResponse:
    """A 302 to a path under the frontend, with the sign-in's outcome in the query; never cached."""
    response = RedirectResponse(f"{settings.frontend_url}{path}?{urlencode(params)}", status_code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


def failed(failure: SignInFailedError, settings: Settings, provider: str) -> RedirectResponse:
    """A failed sign-in: logged (with the request id, as every line of a request is), and the browser sent to the
    frontend with the error's code."""
    record_security_event(
        SecurityEvent.OIDC_SIGN_IN_FAILED,
        user_id=None,
        provider=provider[:32],
        error=failure.code.value,
        detail=failure.detail,
    )
    return landing(settings, failure.redirect_to or "/", {"error": failure.code.value})


def set_flow_cookie(response: Response, hasher: SecretHasher, state: str) -> None:
    response.set_cookie(
        FLOW_COOKIE,
        service.cookie_value(hasher, state),
        max_age=int(service.FLOW_LIFETIME.total_seconds()),
        path=FLOW_COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="lax",
    )


def clear_flow_cookie(response: Response) -> None:
    response.delete_cookie(FLOW_COOKIE, path=FLOW_COOKIE_PATH, secure=True, httponly=True, samesite="lax")
