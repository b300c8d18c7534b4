from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, SecretStr, model_validator

from app.features.users.models import UserRole

__all__ = ["RefreshRequest", "TokenPair", "UserAdminUpdate", "UserCreate", "UserRead"]

MIN_PASSWORD_LENGTH = 12
# Argon2 hashes any length, but an unbounded password is free CPU for an attacker.
MAX_PASSWORD_LENGTH = 256

NormalisedEmail = Annotated[EmailStr, AfterValidator(str.lower)]
Password = Annotated[SecretStr, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]


class UserCreate(BaseModel):
    """Registration: the role is not a field, so a client can never choose its own."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    email: NormalisedEmail
    password: Password
    full_name: Annotated[str | None, Field(max_length=200)] = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str | None
    role: UserRole
    is_active: bool
    created_at: datetime


class UserAdminUpdate(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    # strict=False for the enum alone: FastAPI validates the parsed JSON, where a role can only be a string.
    role: Annotated[UserRole | None, Field(strict=False)] = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> "UserAdminUpdate":
        if self.role is None and self.is_active is None:
            msg = "give at least one of role, is_active"
            raise ValueError(msg)
        return self


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshRequest(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    refresh_token: Annotated[str, Field(min_length=1, max_length=4096)]
