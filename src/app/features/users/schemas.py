import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError

from app.core.input import InputModel
from app.features.mfa.schemas import MfaChallenge
from app.features.users.models import UserRole

__all__ = [
    "Accepted",
    "EmailChange",
    "EmailVerification",
    "EmailVerified",
    "PasswordChange",
    "PasswordResetConfirm",
    "PasswordResetRequest",
    "PhoneNumber",
    "RefreshRequest",
    "TokenPair",
    "UserAdminUpdate",
    "UserCreate",
    "UserRead",
    "UserSelfUpdate",
    "normalise_phone",
]

MIN_PASSWORD_LENGTH = 12
# Argon2 hashes any length, but an unbounded password is free CPU for an attacker.
MAX_PASSWORD_LENGTH = 256

_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
_PHONE_SEPARATORS = str.maketrans("", "", " -.()/")


def normalise_phone(value: str) -> str:
    """E.164: a '+', the country code and the number, digits only (spaces, dashes, dots, parentheses dropped)."""
    normalised = value.translate(_PHONE_SEPARATORS)
    if not _PHONE.fullmatch(normalised):
        msg = "a phone number in international form, e.g. +44 20 7946 0958"
        raise ValueError(msg)
    return normalised


PhoneNumber = Annotated[str, Field(max_length=32), AfterValidator(normalise_phone)]
NormalisedEmail = Annotated[EmailStr, AfterValidator(str.lower)]


def _password_length(value: object) -> object:
    """The length rule, said in characters: SecretStr's own check says "Value should have at least 12 items"."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if isinstance(text, str) and len(text) < MIN_PASSWORD_LENGTH:
        raise PydanticCustomError(
            "string_too_short",
            "String should have at least {min_length} characters",
            {"min_length": MIN_PASSWORD_LENGTH},
        )
    if isinstance(text, str) and len(text) > MAX_PASSWORD_LENGTH:
        raise PydanticCustomError(
            "string_too_long",
            "String should have at most {max_length} characters",
            {"max_length": MAX_PASSWORD_LENGTH},
        )
    return value


# The Field bounds document the rule in OpenAPI; the before-validator enforces it first, in characters.
Password = Annotated[
    SecretStr,
    Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    BeforeValidator(_password_length),
]


class UserCreate(InputModel):
    """Registration: the role is not a field, so a client can never choose its own."""

    email: NormalisedEmail
    password: Password
    full_name: Annotated[str | None, Field(max_length=200)] = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str | None
    phone: str | None
    role: UserRole
    is_active: bool
    email_verified: bool = Field(description="Whether the owner of `email` followed a verification link sent to it.")
    pending_email: str | None = Field(
        description="An address the user asked to change to: it replaces `email` once its verification link is "
        "followed (POST /users/me/email)."
    )
    created_at: datetime


class UserSelfUpdate(InputModel):
    """What users change about themselves (PATCH /users/me): a field sent as null is cleared. Not the e-mail
    address, which changes only once the new one is verified (POST /users/me/email)."""

    full_name: Annotated[str | None, Field(max_length=200)] = None
    phone: PhoneNumber | None = None

    @model_validator(mode="before")
    @classmethod
    def _email_elsewhere(cls, data: object) -> object:
        if isinstance(data, dict) and "email" in data:
            raise PydanticCustomError(
                "email_not_here",
                "the address changes through POST /api/v1/users/me/email, which verifies the new address first",
            )
        return data

    @model_validator(mode="after")
    def _not_empty(self) -> "UserSelfUpdate":
        if not self.model_fields_set:
            msg = "give at least one of full_name, phone"
            raise ValueError(msg)
        return self


class UserAdminUpdate(InputModel):
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
    # Every field is required in the document: a login's answer is this or MfaChallenge, told apart by `token_type`.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


# A login's answer: a token pair, or (two-factor authentication on) an MFA challenge. A discriminated union: the
# document says `oneOf` with a `discriminator` on `token_type` ("bearer" or "mfa"), which generated clients turn
# into a tagged union (TypeScript narrows on it; Java, Kotlin and C# generators pick the class by it).
LoginAnswer = Annotated[TokenPair | MfaChallenge, Field(discriminator="token_type")]


class RefreshRequest(InputModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=4096)]


class PasswordChange(InputModel):
    """POST /users/me/password: the new password follows registration's rules."""

    current_password: Annotated[SecretStr, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
    new_password: Password


# Tokens are 42 characters (app.features.users.tokens); the bound only keeps junk small.
Token = Annotated[str, Field(min_length=1, max_length=256)]


class PasswordResetRequest(InputModel):
    """POST /auth/password-reset."""

    email: NormalisedEmail


class PasswordResetConfirm(InputModel):
    """POST /auth/password-reset/confirm: the token of the mailed link, and a new password by registration's rules."""

    token: Token
    new_password: Password


class EmailVerification(InputModel):
    """POST /auth/verify-email: the token of the mailed link."""

    token: Token


class EmailChange(InputModel):
    """POST /users/me/email: the new address, and the current password (a stolen access token cannot move the
    account, and with it the password resets, to another address)."""

    email: NormalisedEmail
    current_password: Annotated[SecretStr, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class EmailVerified(BaseModel):
    email: str = Field(description="The account's address, now verified.")
    email_verified: Literal[True] = True


class Accepted(BaseModel):
    """A request taken in: what it causes happens later (a mail is on its way)."""

    detail: str
