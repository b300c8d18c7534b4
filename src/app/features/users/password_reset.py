"""Password reset: a request that does the same work whatever the address, a job that mails a link if an active
account has it, and the confirmation that sets the new password and ends every session.

No enumeration. `request_reset` only queues a `users.password_reset` job with the address asked about: the same one
INSERT whether or not an account has it, answered by the route with the same 202 and body. Looking the address up,
issuing the token and queueing the mail happen later, in the job, where the requester can neither see nor time them.

The token (`fgp_`, app.features.users.tokens) is good for FORGE_PASSWORD_RESET_TOKEN_MINUTES (30), once; it is void
as soon as another reset is asked for, the password changes (users.service.set_password), or the account's address
changes (it was mailed to the old one).
"""

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.jobs import JobContext, JobType, enqueue
from app.core.logging import REQUEST_ID
from app.core.opaque_tokens import SecretHasher
from app.core.security import PasswordHasher
from app.core.security_events import SecurityEvent, record_security_event
from app.features.oidc import service as oidc_service
from app.features.users import repository, service, tokens
from app.features.users.models import TokenPurpose
from app.features.users.schemas import PasswordResetConfirm

__all__ = ["MAIL_PASSWORD_RESET", "PasswordResetMail", "confirm_reset", "mail_reset_link", "request_reset"]

_PURPOSE = TokenPurpose.PASSWORD_RESET


class PasswordResetMail(BaseModel):
    """The `users.password_reset` job's payload: the address asked about, and the request's id for the log."""

    email: str
    request_id: str | None = None


async def request_reset(session: AsyncSession, *, email: str) -> None:
    """Queue the job that mails a reset link to `email` if an active account has it: nothing else, whoever asks."""
    await enqueue(session, MAIL_PASSWORD_RESET, PasswordResetMail(email=email, request_id=REQUEST_ID.get()))


async def mail_reset_link(session: AsyncSession, *, email: str, mail: tokens.AccountMail) -> None:
    """The job's work: for an active account with this address, a new token (voiding the earlier one) and its
    mail, in `session`'s transaction; for any other address, nothing but the log line."""
    user = await repository.get_by_email(session, email)
    if user is None or not user.is_active:
        outcome = "unknown_account" if user is None else "deactivated"
        record_security_event(
            SecurityEvent.PASSWORD_RESET_REQUESTED, user_id=user.id if user else None, outcome=outcome
        )
        return
    link = await tokens.issue(session, mail, user_id=user.id, purpose=_PURPOSE, email=user.email)
    minutes = int(mail.lifetimes[_PURPOSE].total_seconds() // 60)
    context = {"link": link, "name": user.full_name, "minutes": minutes}
    await mail.send(session, "password_reset", to=user.email, context=context)
    record_security_event(SecurityEvent.PASSWORD_RESET_REQUESTED, user_id=user.id, outcome="mailed")


async def _mail_reset(payload: PasswordResetMail, context: JobContext) -> None:
    if context.mailer is None:
        msg = "this worker has no mailer: build it with configured_worker(..., mailer=...)"
        raise RuntimeError(msg)
    settings = context.settings
    hasher = SecretHasher(settings.api_key_pepper.get_secret_value())
    mail = tokens.AccountMail.of(settings, mailer=context.mailer, hasher=hasher)
    request_id = REQUEST_ID.set(payload.request_id)  # the log lines name the request that asked
    try:
        async with context.database.session(writes=True) as session, session.begin():
            await mail_reset_link(session, email=payload.email, mail=mail)
    finally:
        REQUEST_ID.reset(request_id)


MAIL_PASSWORD_RESET = JobType(name="users.password_reset", payload=PasswordResetMail, handler=_mail_reset)


async def confirm_reset(
    session: AsyncSession,
    *,
    data: PasswordResetConfirm,
    hasher: PasswordHasher,
    secret_hasher: SecretHasher,
    policy: service.SessionPolicy,
) -> None:
    """Set the password of the reset token's account, which uses the token up, marks the address verified (the
    link reached it) and revokes every session of the account, and, if the address was not verified, every
    identity linked to it (oidc.service.unlink_unproven). `AccountTokenInvalidError` for a token that is not
    live, or whose account is deactivated or has another address now."""
    if not tokens.is_well_formed(data.token, _PURPOSE):  # before Argon2: a made-up token costs nothing
        raise tokens.AccountTokenInvalidError
    # Hashed before the database is touched, as at registration: the slow part holds no lock.
    hashed = await hasher.hash(data.new_password.get_secret_value())
    taken = await tokens.redeem(session, secret_hasher, token=data.token, purpose=_PURPOSE)
    user = await repository.get(session, taken.user_id)
    if user is None or not user.is_active or user.email != taken.email:
        raise tokens.AccountTokenInvalidError
    await service.set_password(session, user=user, hashed=hashed)
    if not user.email_verified:  # whoever linked a provider's account before the mailbox was proven goes
        await oidc_service.unlink_unproven(session, user_id=user.id)
    user.email_verified = True
    revoked = await service.revoke_sessions(session, user_id=user.id, policy=policy, reason="password_reset")
    record_security_event(SecurityEvent.PASSWORD_RESET, user_id=user.id, sessions_revoked=revoked)
