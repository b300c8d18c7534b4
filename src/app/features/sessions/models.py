from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow

__all__ = ["SessionID", "SpentRefreshToken", "UserSession"]

type SessionID = int


class UserSession(Base):
    """One login: alive until it is revoked, idle too long, or too old (the lifetimes are settings, applied when
    the session is used, so they are not stored). Its access tokens name it; its refresh token is the current one."""

    __tablename__ = "user_session"
    # A user's sessions in the listing's keyset order (most recently used first); also the user_id lookups' index.
    __table_args__ = (Index("ix_user_session_user_id_last_used_at_id", "user_id", "last_used_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    # HMAC-SHA-256(pepper, refresh token) of the current refresh token: the only trace of it that is stored.
    refresh_token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The digest of the spent token whose presentation issued the current one: presented again within the grace, it
    # is a client's retry, not reuse.
    rotated_from_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The login or the last refresh (access tokens do not count: that would be a write per request).
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str | None] = mapped_column(String(200))
    # The client's network, not its address: IPv4 /24, IPv6 /48.
    client_network: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]


class SpentRefreshToken(Base):
    """A refresh token that was rotated: presented again, it is reuse (or a retry within the grace)."""

    __tablename__ = "spent_refresh_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("user_session.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    spent_at: Mapped[datetime]
