"""The HTTP side of two-factor authentication: the budgets that bound code guessing, the MFA token of a login's
second step, and the time codes are checked at.

Two budgets, both in the app's rate limiter: every attempt with one MFA token spends that token's (`mfa`,
FORGE_RATE_LIMIT_MFA), and every wrong code of an account, wherever it is entered, spends the account's (`mfa_account`,
FORGE_RATE_LIMIT_MFA_ACCOUNT), which is checked before any code is. A new MFA token takes the password again, whose
guesses the login's own limits bound.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from app.core.context import Context
from app.core.database import utcnow
from app.features.auth.dependencies import authentication_attempt
from app.features.mfa import service
from app.features.mfa.schemas import MfaLogin
from app.shared.ratelimit import enforce, refuse_if_spent
from app.shared.routing import answers

__all__ = ["MfaAttempt", "PresentedMfaLogin", "TotpTime", "get_totp_time", "second_factor_attempt"]

# The rate limiter's policies (FORGE_RATE_LIMIT_MFA, FORGE_RATE_LIMIT_MFA_ACCOUNT).
MFA_TOKEN_POLICY = "mfa"  # noqa: S105 - a policy's name
MFA_ACCOUNT_POLICY = "mfa_account"


async def get_totp_time() -> datetime:
    """The time codes are checked at: now (a dependency, so that a test can choose it)."""
    return utcnow()


TotpTime = Annotated[datetime, Depends(get_totp_time)]


@asynccontextmanager
async def second_factor_attempt(request: Request, user_id: int) -> AsyncIterator[None]:
    """Around a check of an account's code: 429 before it when the account has no wrong codes left, and a wrong code
    (`WrongCodeError`, `LoginCodeError`) spends one, answered 429 instead when it was the last."""
    key = f"mfa-account:{user_id}"
    await refuse_if_spent(request, MFA_ACCOUNT_POLICY, key)
    try:
        yield
    except (service.WrongCodeError, service.LoginCodeError):
        await enforce(request, MFA_ACCOUNT_POLICY, key)
        raise


@dataclass(frozen=True, slots=True)
class MfaAttempt:
    """A login's second step: the user whose password was right (from a valid MFA token) and the code given."""

    user_id: int
    code: str


@answers(401)
async def get_mfa_attempt(request: Request, data: MfaLogin, context: Context) -> MfaAttempt:
    """The body of `POST /auth/mfa`, its MFA token verified (a bad one spends the client's authentication failures,
    as a bad bearer token does) and its attempt counted against the token's budget."""
    async with authentication_attempt(request):
        claims = service.read_challenge(context.token_service, data.mfa_token)
    await enforce(request, MFA_TOKEN_POLICY, f"mfa-token:{claims.token_id}")
    return MfaAttempt(user_id=claims.user_id, code=data.code)


PresentedMfaLogin = Annotated[MfaAttempt, Depends(get_mfa_attempt)]
