"""The caller dependencies users' routes take, what mailing a user a link takes (`AccountMailer`), and a login's
answer (`answer_login`: a token pair, or the MFA challenge).

The caller dependencies are defined in the auth feature, where the caller is worked out; features scaffolded before
the auth feature existed import them from here too, so this module keeps re-exporting them."""

from typing import Annotated

from fastapi import Depends, Response

from app.config import Settings
from app.core.context import Context
from app.features.auth.dependencies import AdminUser, CurrentUser, DetachedCurrentUser, VerifiedUser
from app.features.mfa.schemas import MfaChallenge
from app.features.mfa.service import Challenge
from app.features.sessions.dependencies import IssuedTokens, set_session_cookies
from app.features.users.schemas import TokenPair
from app.features.users.tokens import AccountMail

__all__ = [
    "AccountMailer",
    "AdminUser",
    "CurrentUser",
    "DetachedCurrentUser",
    "VerifiedUser",
    "answer_login",
    "answer_session",
]


async def get_account_mail(context: Context) -> AccountMail:
    return AccountMail.of(context.settings, mailer=context.mailer, hasher=context.secret_hasher)


AccountMailer = Annotated[AccountMail, Depends(get_account_mail)]


def answer_session(issued: IssuedTokens, response: Response, settings: Settings) -> TokenPair:
    """A started session's answer: its tokens (and, with FORGE_AUTH_COOKIES, the refresh and CSRF cookies)."""
    set_session_cookies(response, issued, settings)
    return TokenPair(access_token=issued.access_token, refresh_token=issued.refresh_token, expires_in=issued.expires_in)


def answer_login(outcome: IssuedTokens | Challenge, response: Response, settings: Settings) -> TokenPair | MfaChallenge:
    """A first factor's answer (a password, or a provider's sign-in): the session, or the MFA challenge."""
    if isinstance(outcome, Challenge):
        return MfaChallenge(mfa_token=outcome.mfa_token, expires_in=outcome.expires_in)
    return answer_session(outcome, response, settings)
