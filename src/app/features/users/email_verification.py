"""E-mail addresses: verifying them, and changing an account's address, which takes effect only once the new one is
verified (as Devise's `reconfirmable` does: the new address waits in `pending_email`).

A verification token (`fgv_`, app.features.users.tokens) is mailed to the address it verifies, which it records;
following its link verifies that address if it is still the account's address or the pending one, and nothing
otherwise. Issuing one voids the user's earlier one, so a user has one live verification link at a time: the last
one asked for. A change of address is told to the old address when it takes effect.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.exceptions import ConflictError, FieldError, InvalidInputError
from app.core.security import PasswordHasher
from app.core.security_events import SecurityEvent, record_security_event
from app.features.users import repository, service, tokens
from app.features.users.models import TokenPurpose, User
from app.features.users.schemas import EmailChange, UserCreate

__all__ = ["request_email_change", "resend_verification", "send_verification", "sign_up", "verify_email"]

_PURPOSE = TokenPurpose.EMAIL_VERIFICATION
_TAKEN = "An account with this e-mail address already exists."


async def send_verification(session: AsyncSession, mail: tokens.AccountMail, *, user: User, email: str) -> None:
    """Mail `email` a link that verifies it for `user` (voiding the user's earlier link)."""
    link = await tokens.issue(session, mail, user_id=user.id, purpose=_PURPOSE, email=email)
    hours = int(mail.lifetimes[_PURPOSE].total_seconds() // 3600)
    context = {"link": link, "name": user.full_name, "hours": hours, "change": email != user.email}
    await mail.send(session, "verify_email", to=email, context=context)


async def sign_up(session: AsyncSession, *, data: UserCreate, hasher: PasswordHasher, mail: tokens.AccountMail) -> User:
    """Registration: an unverified account, and the mail with the link that verifies its address."""
    user = await service.register_user(session, data=data, hasher=hasher)
    await send_verification(session, mail, user=user, email=user.email)
    return user


async def resend_verification(session: AsyncSession, *, user: User, mail: tokens.AccountMail) -> str:
    """Mail a new link to the address that awaits verification (the pending one, if a change was asked for); that
    address. 409 when there is none: the address is verified and no change is pending."""
    email = user.pending_email or (None if user.email_verified else user.email)
    if email is None:
        msg = "The account's e-mail address is verified already, and no change of address is pending."
        raise ConflictError(msg)
    await send_verification(session, mail, user=user, email=email)
    return email


async def request_email_change(
    session: AsyncSession, *, user: User, data: EmailChange, hasher: PasswordHasher, mail: tokens.AccountMail
) -> User:
    """Ask to change the account's address, given the current password: the new address is `pending_email` and is
    mailed a verification link; the account keeps its address (for logins and resets) until the link is followed."""
    valid, _ = await hasher.verify(data.current_password.get_secret_value(), user.hashed_password)
    if not valid:
        record_security_event(SecurityEvent.EMAIL_CHANGE_REFUSED, user_id=user.id)
        error = FieldError("#/current_password", "is not the account's password", "wrong_password")
        raise InvalidInputError("The current password is not right.", errors=[error])
    if data.email == user.email:
        error = FieldError("#/email", "is the account's address already", "unchanged")
        raise InvalidInputError("The new address is the current one.", errors=[error])
    if await repository.get_by_email(session, data.email) is not None:
        raise ConflictError(_TAKEN)
    user.pending_email = data.email
    await session.flush()
    await send_verification(session, mail, user=user, email=data.email)
    record_security_event(SecurityEvent.EMAIL_CHANGE_REQUESTED, user_id=user.id)
    return user


async def verify_email(session: AsyncSession, *, token: str, mail: tokens.AccountMail) -> User:
    """Follow a verification link: its address is verified, and becomes the account's if it was the pending one
    (the old address is told). `AccountTokenInvalidError` for a token that is not live or verifies an address the
    account neither has nor awaits; 409 when another account took the pending address meanwhile."""
    taken = await tokens.redeem(session, mail.hasher, token=token, purpose=_PURPOSE)
    user = await repository.get(session, taken.user_id)
    if user is None or not user.is_active or taken.email not in {user.email, user.pending_email}:
        raise tokens.AccountTokenInvalidError
    if taken.email == user.pending_email:
        await _change_address(session, mail, user=user)
    user.email_verified = True
    await session.flush()
    record_security_event(SecurityEvent.EMAIL_VERIFIED, user_id=user.id)
    return user


async def _change_address(session: AsyncSession, mail: tokens.AccountMail, *, user: User) -> None:
    old, new = user.email, user.pending_email
    if new is None or await repository.get_by_email(session, new) is not None:
        raise ConflictError(_TAKEN)
    user.email, user.pending_email = new, None
    await repository.flush_email(session)
    # Reset links went to the old address: they are void (confirm_reset checks the address too).
    await repository.delete_tokens(session, user_id=user.id, purpose=TokenPurpose.PASSWORD_RESET)
    await mail.send(
        session, "email_changed", to=old, context={"name": user.full_name, "old_email": old, "new_email": new}
    )
    record_security_event(SecurityEvent.EMAIL_CHANGED, user_id=user.id)
