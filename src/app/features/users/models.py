from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin, utcnow
from app.core.encryption import EncryptedText

__all__ = ["AccountToken", "TokenPurpose", "User", "UserID", "UserRole"]

type UserID = int


class UserRole(StrEnum):
    USER = "user"
    ADMIN = "admin"


class User(TimestampMixin, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased (see schemas), so that the unique constraint is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # None: the account signs in through a provider only (docs/oidc.md), until a password is set by a reset.
    hashed_password: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[UserRole] = mapped_column(
        Enum(UserRole, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=UserRole.USER,
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    # Whether the owner of `email` followed a verification link sent to it (or an admin made the account).
    email_verified: Mapped[bool] = mapped_column(default=False, server_default=false())
    # An address the user asked to change to: it becomes `email` once its verification link is followed.
    pending_email: Mapped[str | None] = mapped_column(String(320))
    # Encrypted at rest; found by equality through its blind index (HMAC of the normalised number).
    phone: Mapped[str | None] = mapped_column(EncryptedText())
    phone_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.ADMIN

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r}, role={self.role.value!r})"


class TokenPurpose(StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose's name
    EMAIL_VERIFICATION = "email_verification"


class AccountToken(Base):
    """A single-use secret mailed to a user (a password reset, an address's verification): only its digest is stored,
    and the row is deleted when the token is used or voided, or by the purge once it has expired."""

    __tablename__ = "account_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[TokenPurpose] = mapped_column(
        Enum(TokenPurpose, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])
    )
    # HMAC-SHA-256(pepper, token), as for API keys and refresh tokens.
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The address the token was mailed to: a verification verifies this address; a reset is void once the account's
    # address is another.
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
