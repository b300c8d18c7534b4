from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.core.context import Context
from app.core.database import DBSession, ReadMostlyDBSession
from app.core.exceptions import FieldError, InvalidInputError
from app.core.identifiers import ResourceID
from app.core.input import NUL_MESSAGE
from app.core.pagination import Page, Pagination
from app.core.security import Hasher
from app.features.auth.dependencies import AdminAudit, BearerSession, CurrentSessionID, authentication_attempt
from app.features.mfa.dependencies import PresentedMfaLogin, TotpTime, second_factor_attempt
from app.features.sessions.dependencies import (
    Issuer,
    Policy,
    PresentedRefreshToken,
    SessionClient,
    clear_session_cookies,
    refresh_token_cookie,
)
from app.features.sessions.schemas import SessionsRevoked
from app.features.users import email_verification, password_reset, service
from app.features.users.dependencies import AccountMailer, AdminUser, CurrentUser, answer_login, answer_session
from app.features.users.models import User
from app.features.users.schemas import (
    Accepted,
    EmailChange,
    EmailVerification,
    EmailVerified,
    LoginAnswer,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    PhoneNumber,
    RefreshRequest,
    TokenPair,
    UserAdminUpdate,
    UserCreate,
    UserRead,
    UserSelfUpdate,
)
from app.shared.ratelimit import RateLimit, account_key, client_key, enforce
from app.shared.routing import ForgeRoute

__all__ = ["auth_router", "router"]

auth_router = APIRouter(prefix="/auth", tags=["auth"], route_class=ForgeRoute)
router = APIRouter(prefix="/users", tags=["users"], route_class=ForgeRoute)


async def login_form(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> OAuth2PasswordRequestForm:
    """The OAuth2 password form (FastAPI's own, so that /docs can sign in), its fields held to the rule of every
    other text input: no NUL character (core/input.py)."""
    errors = [
        FieldError(f"#/{name}", NUL_MESSAGE, "string_nul")
        for name, value in (("username", form.username), ("password", form.password))
        if "\x00" in value
    ]
    if errors:
        raise InvalidInputError(f"The request has {len(errors)} invalid field(s); see `errors`.", errors=errors)
    return form


LoginForm = Annotated[OAuth2PasswordRequestForm, Depends(login_form)]


async def limit_login(request: Request, form: LoginForm) -> None:
    """Per client and per target account, before any password is hashed: Argon2 must not become a DoS lever."""
    await enforce(request, "login", client_key(request))
    await enforce(request, "login_account", account_key(form.username))


_INVALID_TOKEN: dict[int | str, dict[str, Any]] = {
    400: {"description": "The link's token is malformed, unknown, used, voided or expired (`invalid-token`)."}
}


@auth_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    dependencies=[Depends(RateLimit("register"))],
    responses={409: {"description": "The e-mail address is taken (compared case-insensitively)."}},
)
async def register(data: UserCreate, session: DBSession, hasher: Hasher, mail: AccountMailer) -> User:
    """Create an account; its address is mailed a verification link (`email_verified` is false until followed)."""
    return await email_verification.sign_up(session, data=data, hasher=hasher, mail=mail)


@auth_router.post("/password-reset", status_code=status.HTTP_202_ACCEPTED)
async def request_password_reset(
    request: Request, data: PasswordResetRequest, session: DBSession, context: Context
) -> Accepted:
    """Mail a password reset link to this address if an active account has it. The answer, and the work done
    before it, are the same whether or not one does. Limited per client and per address asked about."""
    await enforce(request, "password_reset", client_key(request))
    await enforce(request, "password_reset_account", account_key(data.email))
    await password_reset.request_reset(session, email=data.email)
    minutes = context.settings.password_reset_token_minutes
    return Accepted(
        detail=f"If an account has this address, a link to reset its password is on its way; it works once, for "
        f"{minutes} minutes."
    )


@auth_router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(RateLimit("password_reset"))],
    responses=_INVALID_TOKEN,
)
async def confirm_password_reset(
    data: PasswordResetConfirm, session: DBSession, hasher: Hasher, policy: Policy, context: Context
) -> None:
    """Set a new password with the token of a reset link (by registration's rules). The token is used up, the
    address counts as verified, and every session of the account is revoked: log in with the new password."""
    await password_reset.confirm_reset(
        session, data=data, hasher=hasher, secret_hasher=context.secret_hasher, policy=policy
    )


@auth_router.post(
    "/verify-email", responses={**_INVALID_TOKEN, 409: {"description": "Another account has the new address now."}}
)
async def verify_email(data: EmailVerification, session: DBSession, mail: AccountMailer) -> EmailVerified:
    """Verify the address a verification link was mailed to; a new address (POST /users/me/email) becomes the
    account's, and the old address is told."""
    user = await email_verification.verify_email(session, token=data.token, mail=mail)
    return EmailVerified(email=user.email)


@auth_router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {"description": "The address is verified already, and no change of address is pending."}},
)
async def resend_verification(request: Request, session: DBSession, user: CurrentUser, mail: AccountMailer) -> Accepted:
    """Mail a new verification link (the earlier one stops working) to the address awaiting verification: the
    pending new address if there is one, else the account's. Limited per user."""
    await enforce(request, "email_verification", f"user:{user.id}")
    email = await email_verification.resend_verification(session, user=user, mail=mail)
    return Accepted(detail=f"A verification link is on its way to {email}.")


@auth_router.post(
    "/token",
    dependencies=[Depends(limit_login)],
    responses={
        200: {"description": "A token pair (`token_type` `bearer`), or an MFA challenge (`token_type` `mfa`)."},
        401: {"description": "Wrong e-mail address or password, or a deactivated account."},
    },
)
async def issue_token(
    form: LoginForm,
    *,
    session: ReadMostlyDBSession,
    hasher: Hasher,
    issuer: Issuer,
    client: SessionClient,
    context: Context,
    response: Response,
) -> LoginAnswer:
    """OAuth2 password flow: `username` is the e-mail address. Starts a session; with FORGE_AUTH_COOKIES the
    refresh token is also set as a cookie, with the CSRF token (cookie and `X-CSRF-Token` header). For an account
    with two-factor authentication on, the answer is an MFA challenge instead: `POST /auth/mfa` completes it."""
    outcome = await service.login(
        session, email=form.username, password=form.password, hasher=hasher, client=client, issuer=issuer
    )
    return answer_login(outcome, response, context.settings)


@auth_router.post(
    "/mfa",
    responses={401: {"description": "An invalid or expired MFA token, or a wrong, used or replayed code."}},
)
async def complete_mfa_login(
    request: Request,
    attempt: PresentedMfaLogin,
    *,
    session: DBSession,
    issuer: Issuer,
    client: SessionClient,
    context: Context,
    response: Response,
    now: TotpTime,
) -> TokenPair:
    """The second step of a login with two-factor authentication: the MFA token and a code (from the
    authenticator, or a recovery code), each code accepted once. Starts the session, as `/auth/token` does."""
    async with authentication_attempt(request), second_factor_attempt(request, attempt.user_id):
        issued = await service.complete_login(
            session, user_id=attempt.user_id, code=attempt.code, now=now, client=client, issuer=issuer
        )
    return answer_session(issued, response, context.settings)


@auth_router.post(
    "/refresh",
    responses={
        401: {"description": "Invalid, spent, expired or revoked refresh token (a spent one revokes its session)."},
        403: {"description": "The refresh token came in its cookie without the session's `X-CSRF-Token`."},
    },
)
async def refresh(
    request: Request,
    *,
    session: DBSession,
    issuer: Issuer,
    context: Context,
    response: Response,
    data: RefreshRequest | None = None,
) -> TokenPair:
    """Rotate: a new pair for the refresh token (in the body, or with FORGE_AUTH_COOKIES in its cookie), which
    stops working. Presenting it again revokes the session, but for a retry within the grace."""
    presented = (
        PresentedRefreshToken(data.refresh_token)
        if data is not None
        else refresh_token_cookie(request, context.settings)
    )
    async with authentication_attempt(request):
        issued = await service.refresh_tokens(session, presented=presented, issuer=issuer)
    return answer_session(issued, response, context.settings)


@auth_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"description": "The refresh token came in its cookie without the session's `X-CSRF-Token`."}},
)
async def logout(
    request: Request,
    *,
    session: DBSession,
    signed_in: BearerSession,
    issuer: Issuer,
    context: Context,
    response: Response,
) -> None:
    """End the session of the bearer access token or else (FORGE_AUTH_COOKIES) of the refresh token cookie."""
    caller = (signed_in.user, signed_in.session_id) if signed_in is not None else None
    presented = refresh_token_cookie(request, context.settings)
    await service.logout(session, signed_in=caller, presented=presented, issuer=issuer)
    clear_session_cookies(response, context.settings)


@router.get("/me", response_model=UserRead)
async def get_me(user: CurrentUser) -> User:
    return user


@router.patch("/me", response_model=UserRead)
async def update_me(changes: UserSelfUpdate, session: DBSession, user: CurrentUser) -> User:
    return await service.update_me(session, user=user, changes=changes)


@router.post(
    "/me/email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UserRead,
    responses={
        409: {"description": "Another account has this address."},
        422: {"description": "A wrong current password (`#/current_password`), or the account's own address."},
    },
)
async def change_email(
    request: Request, data: EmailChange, *, session: DBSession, user: CurrentUser, hasher: Hasher, mail: AccountMailer
) -> User:
    """Change the account's address, given the current password: the new address, in `pending_email`, is mailed a
    verification link and replaces `email` once the link is followed (the old address is then told)."""
    await enforce(request, "login_account", account_key(user.email))  # guesses share the login's budget
    await enforce(request, "email_verification", f"user:{user.id}")
    return await email_verification.request_email_change(session, user=user, data=data, hasher=hasher, mail=mail)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        422: {"description": "A wrong current password (`#/current_password`), or a new one that breaks the rules."}
    },
)
async def change_password(
    request: Request,
    data: PasswordChange,
    *,
    session: DBSession,
    user: CurrentUser,
    current: CurrentSessionID,
    hasher: Hasher,
    policy: Policy,
) -> None:
    """Set a new password, given the current one. Every other session is revoked; this one stays."""
    await enforce(request, "login_account", account_key(user.email))  # guesses share the login's budget
    await service.change_password(session, user=user, session_id=current, data=data, hasher=hasher, policy=policy)


@router.get("")
async def list_users(
    session: DBSession,
    _admin: AdminUser,
    pagination: Pagination,
    phone: Annotated[PhoneNumber | None, Query(description="Only the user with this phone number.")] = None,
) -> Page[UserRead]:
    return await service.list_users(session, params=pagination, phone=phone)


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    responses={409: {"description": "Admins cannot demote or deactivate their own account."}},
)
async def update_user(
    user_id: ResourceID, changes: UserAdminUpdate, session: DBSession, audit: AdminAudit, policy: Policy
) -> User:
    """Deactivating a user revokes every session of theirs."""
    return await service.update_user(session, user_id=user_id, changes=changes, policy=policy, audit=audit)


@router.post("/{user_id}/sessions/revoke-all")
async def revoke_user_sessions(
    user_id: ResourceID, session: DBSession, audit: AdminAudit, policy: Policy
) -> SessionsRevoked:
    """Sign a user out everywhere: every live session revoked, with its tokens."""
    return SessionsRevoked(
        revoked=await service.admin_revoke_sessions(session, user_id=user_id, policy=policy, audit=audit)
    )
