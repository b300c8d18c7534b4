from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["SessionRead", "SessionsRevoked"]


class SessionRead(BaseModel):
    """A live session, as its user sees it in a listing; never a token."""

    id: int
    current: bool = Field(description="Whether this is the session of the access token that asked.")
    created_at: datetime = Field(description="When its login happened.")
    last_used_at: datetime = Field(description="Its login or last refresh.")
    expires_at: datetime = Field(description="When it ends unless refreshed (idle), or at the latest (absolute).")
    user_agent: str | None = Field(description="The User-Agent of its login, cut to 200 characters.")
    client_network: str | None = Field(description="The network its login came from: IPv4 /24, IPv6 /48.")


class SessionsRevoked(BaseModel):
    revoked: int = Field(description="How many live sessions were revoked.")
