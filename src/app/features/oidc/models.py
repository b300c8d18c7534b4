from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow

__all__ = ["OidcFlow", "OidcLoginCode", "UserIdentity"]


class UserIdentity(Base):
    """An account at a provider, linked to a user: (provider, subject), never the e-mail address, which a provider
    may let its users change."""

    __tablename__ = "user_identity"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    # The address the provider gave at the last sign-in: shown in listings, never used to find the identity.
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)


class OidcFlow(Base):
    """A sign-in (or a link) sent to a provider and not back yet: what the callback needs, found by the digest of
    its `state`, and deleted by the callback that uses it (single use)."""

    __tablename__ = "oidc_flow"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    provider: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_to: Mapped[str] = mapped_column(String(512))
    # Set for a link: the signed-in user who gets the identity; None for a sign-in.
    link_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class OidcLoginCode(Base):
    """The one-time code a finished sign-in hands the frontend (in the URL): exchanged once, within a minute, for
    the session's tokens, which never travel in a URL. Stored as its digest."""

    __tablename__ = "oidc_login_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(index=True)
