from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin

__all__ = ["ApiKey", "ApiKeyID", "Scope"]

type ApiKeyID = int


class Scope(StrEnum):
    """What an API key may do. A JWT user is not limited by scopes, only by its role.

    `api:read` and `api:write` belong to no feature: dynamic endpoints (`auth: scope:api:read`) and features of
    your own may require them; a feature with scopes of its own lists them here (`invoices:write`...).
    """

    API_READ = "api:read"
    API_WRITE = "api:write"
    PRODUCTS_WRITE = "products:write"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"


class ApiKey(TimestampMixin, Base):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # HMAC-SHA-256(pepper, key): the only trace of the secret that is stored.
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated, sorted
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    @property
    def scope_set(self) -> frozenset[Scope]:
        return frozenset(Scope(s) for s in self.scopes.split())
