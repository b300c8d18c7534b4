from typing import Any

from fastapi import APIRouter, Request, status

from app import TITLE
from app.core.context import Context
from app.core.database import DBSession
from app.core.security import Hasher
from app.features.auth.dependencies import CurrentUser
from app.features.mfa import service
from app.features.mfa.dependencies import TotpTime, second_factor_attempt
from app.features.mfa.schemas import (
    MfaCode,
    MfaDisable,
    MfaStatus,
    PasswordConfirmation,
    RecoveryCodes,
    TotpEnrolment,
)
from app.shared.ratelimit import account_key, enforce
from app.shared.routing import ForgeRoute

__all__ = ["router"]

# The signed-in user's own second factor. Served before the users' routes, as /users/me/sessions is.
router = APIRouter(prefix="/users/me/mfa", tags=["mfa"], route_class=ForgeRoute)

type Responses = dict[int | str, dict[str, Any]]

_WRONG_PASSWORD: Responses = {
    422: {"description": "A wrong password (`#/password`), or a wrong, used or replayed code (`#/code`)."}
}
_WRONG_CODE: Responses = {422: {"description": "A wrong, used or replayed code (`#/code`)."}}


@router.get("")
async def get_mfa_status(session: DBSession, user: CurrentUser) -> MfaStatus:
    """Whether logins need a second factor, whether an enrolment waits for its code, and the recovery codes left."""
    state = await service.state(session, user_id=user.id)
    return MfaStatus(enabled=state.enabled, pending=state.pending, recovery_codes_left=state.recovery_codes_left)


@router.post(
    "/totp",
    status_code=status.HTTP_201_CREATED,
    responses={**_WRONG_PASSWORD, 409: {"description": "Two-factor authentication is on already."}},
)
async def enrol_totp(
    request: Request, data: PasswordConfirmation, *, session: DBSession, user: CurrentUser, hasher: Hasher
) -> TotpEnrolment:
    """Start an enrolment, given the password: a new TOTP secret, its `otpauth://` URI and QR code. Nothing is on
    until a code confirms it; a new enrolment replaces a pending one."""
    await enforce(request, "login_account", account_key(user.email))  # password guesses share the login's budget
    password = data.password.get_secret_value()
    enrolment = await service.start_enrolment(session, account=user, password=password, passwords=hasher, issuer=TITLE)
    return TotpEnrolment(secret=enrolment.secret, otpauth_uri=enrolment.uri, qr_code_svg=enrolment.qr_code_svg)


@router.post(
    "/totp/confirm",
    responses={**_WRONG_CODE, 409: {"description": "No enrolment is pending, or two-factor authentication is on."}},
)
async def confirm_totp(
    request: Request, data: MfaCode, *, session: DBSession, user: CurrentUser, context: Context, now: TotpTime
) -> RecoveryCodes:
    """Turn two-factor authentication on with a code from the new authenticator: ten recovery codes, shown once."""
    async with second_factor_attempt(request, user.id):
        codes = await service.confirm_enrolment(
            session, user_id=user.id, code=data.code, hasher=context.secret_hasher, now=now
        )
    return RecoveryCodes(recovery_codes=codes)


@router.post(
    "/totp/disable",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_WRONG_PASSWORD, 409: {"description": "Two-factor authentication is off."}},
)
async def disable_totp(
    request: Request,
    data: MfaDisable,
    *,
    session: DBSession,
    user: CurrentUser,
    hasher: Hasher,
    context: Context,
    now: TotpTime,
) -> None:
    """Turn two-factor authentication off, given the password and a code (authenticator or recovery)."""
    await enforce(request, "login_account", account_key(user.email))
    async with second_factor_attempt(request, user.id):
        await service.disable(
            session,
            account=user,
            password=data.password.get_secret_value(),
            passwords=hasher,
            code=data.code,
            hasher=context.secret_hasher,
            now=now,
        )


@router.post("/recovery-codes", responses={**_WRONG_CODE, 409: {"description": "Two-factor authentication is off."}})
async def regenerate_recovery_codes(
    request: Request, data: MfaCode, *, session: DBSession, user: CurrentUser, context: Context, now: TotpTime
) -> RecoveryCodes:
    """Ten new recovery codes, given a code (authenticator or recovery); the earlier ones stop working."""
    async with second_factor_attempt(request, user.id):
        codes = await service.regenerate_recovery_codes(
            session, user_id=user.id, code=data.code, hasher=context.secret_hasher, now=now
        )
    return RecoveryCodes(recovery_codes=codes)
