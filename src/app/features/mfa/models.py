from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow
from app.core.encryption import EncryptedText

__all__ = ["RecoveryCode", "TotpCredential"]


class TotpCredential(Base):
    """A user's TOTP authenticator: pending until a code from it confirms the enrolment, then on (`enabled_at`)."""

    __tablename__ = "totp_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    # Encrypted, not hashed: checking a code needs the secret itself (HMAC-SHA-1 of the time step, RFC 6238).
    secret: Mapped[str] = mapped_column(EncryptedText())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enabled_at: Mapped[datetime | None]
    # The time step (Unix time // 30) of the last code accepted: a code is good once, and never one of an earlier step.
    last_used_step: Mapped[int | None]


class RecoveryCode(Base):
    """One of a user's single-use recovery codes, stored as HMAC-SHA-256(pepper, purpose, user, code)."""

    __tablename__ = "mfa_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    used_at: Mapped[datetime | None]
