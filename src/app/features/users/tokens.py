"""Single-use tokens mailed to users, and the links that carry them to the web app (FORGE_FRONTEND_URL).

A password reset token (`fgp_...`) or an e-mail verification token (`fgv_...`) has the format of API keys and refresh
tokens (app.core.opaque_tokens): 190 random bits and a checksum, so that a mangled link is refused before the
database is asked. Only its HMAC digest is stored, with the address it was mailed to and its expiry. A token is used
by deleting its row (one statement: of two requests presenting it, one wins), and issuing a token voids the user's
earlier ones of the same purpose, so each user has at most one live token per purpose.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.database import utcnow
from app.core.exceptions import BadRequestError
from app.core.mail import Mailer
from app.core.opaque_tokens import OpaqueTokenFormat, SecretHasher
from app.features.users import repository
from app.features.users.models import AccountToken, TokenPurpose, UserID

__all__ = [
    "EMAIL_VERIFICATION_TOKENS",
    "PASSWORD_RESET_TOKENS",
    "AccountMail",
    "AccountTokenInvalidError",
    "is_well_formed",
    "issue",
    "redeem",
]

PASSWORD_RESET_TOKENS = OpaqueTokenFormat("fgp_")
EMAIL_VERIFICATION_TOKENS = OpaqueTokenFormat("fgv_")
_FORMATS = {
    TokenPurpose.PASSWORD_RESET: PASSWORD_RESET_TOKENS,
    TokenPurpose.EMAIL_VERIFICATION: EMAIL_VERIFICATION_TOKENS,
}
# The web app's pages that the links open; they post the token back (docs/api.md).
_PAGES = {TokenPurpose.PASSWORD_RESET: "reset-password", TokenPurpose.EMAIL_VERIFICATION: "verify-email"}


class AccountTokenInvalidError(BadRequestError):
    """A reset or verification token that is malformed, unknown, used, voided or expired: one answer for all."""

    slug = "invalid-token"
    title = "Invalid or Expired Link"

    def __init__(self) -> None:
        super().__init__("The link is invalid, was used already or has expired; ask for a new one.")


@dataclass(frozen=True, slots=True)
class AccountMail:
    """What mailing a user a link takes: the mailer, the pepper's hasher (tokens' digests), the web app's address
    and the tokens' lifetimes. Built from the app's context in a request, from the job's context in a job."""

    mailer: Mailer
    hasher: SecretHasher
    frontend_url: str
    lifetimes: Mapping[TokenPurpose, timedelta]

    @classmethod
    def of(cls, settings: Settings, *, mailer: Mailer, hasher: SecretHasher) -> "AccountMail":
        return cls(
            mailer=mailer,
            hasher=hasher,
            frontend_url=settings.frontend_url,
            lifetimes={
                TokenPurpose.PASSWORD_RESET: timedelta(minutes=settings.password_reset_token_minutes),
                TokenPurpose.EMAIL_VERIFICATION: timedelta(hours=settings.email_verification_token_hours),
            },
        )

    def link(self, purpose: TokenPurpose, token: str) -> str:
        return f"{self.frontend_url}/{_PAGES[purpose]}?{urlencode({'token': token})}"

    async def send(self, session: AsyncSession, template: str, *, to: str, context: Mapping[str, Any]) -> None:
        """Mail `template` to `to`, queued in `session`'s transaction (sent once it commits)."""
        await self.mailer.enqueue(session, self.mailer.compose(template, to=to, context=context))


async def issue(session: AsyncSession, mail: AccountMail, *, user_id: UserID, purpose: TokenPurpose, email: str) -> str:
    """A new token for `purpose`, mailed to `email`, which voids the user's earlier ones; the link that carries it."""
    await repository.delete_tokens(session, user_id=user_id, purpose=purpose)
    token = _FORMATS[purpose].generate()
    now = utcnow()
    row = AccountToken(
        user_id=user_id,
        purpose=purpose,
        token_hash=mail.hasher.digest(token),
        email=email,
        created_at=now,
        expires_at=now + mail.lifetimes[purpose],
    )
    await repository.add_token(session, row)
    return mail.link(purpose, token)


def is_well_formed(token: str, purpose: TokenPurpose) -> bool:
    return _FORMATS[purpose].is_well_formed(token)


async def redeem(
    session: AsyncSession, hasher: SecretHasher, *, token: str, purpose: TokenPurpose
) -> repository.TakenToken:
    """Use a live token of `purpose`: it is gone once the transaction commits. `AccountTokenInvalidError` for any
    other (malformed ones without asking the database)."""
    if not is_well_formed(token, purpose):
        raise AccountTokenInvalidError
    taken = await repository.take_token(session, digest=hasher.digest(token), purpose=purpose, now=utcnow())
    if taken is None:
        raise AccountTokenInvalidError
    return taken
