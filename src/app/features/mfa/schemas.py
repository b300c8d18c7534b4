from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.core.input import InputModel

__all__ = [
    "MfaChallenge",
    "MfaCode",
    "MfaDisable",
    "MfaLogin",
    "MfaStatus",
    "PasswordConfirmation",
    "RecoveryCodes",
    "TotpEnrolment",
]

# A TOTP code is 6 digits and a recovery code 16 characters; separators and spaces are allowed around them.
Code = Annotated[str, Field(min_length=1, max_length=64, description="A TOTP code, or an unused recovery code.")]
Password = Annotated[SecretStr, Field(min_length=1, max_length=256)]


class PasswordConfirmation(InputModel):
    """The account's password, asked again before two-factor authentication changes hands."""

    password: Password


class TotpEnrolment(BaseModel):
    """A pending enrolment: put the secret in an authenticator app (by the QR code, or typed), then confirm with a
    code from it. Shown once; nothing is on before the confirmation."""

    secret: str = Field(description="The TOTP secret, base32 (SHA-1, 6 digits, 30-second steps).")
    otpauth_uri: str = Field(description="The `otpauth://totp/...` URI that authenticator apps read.")
    qr_code_svg: str = Field(description="The URI as a QR code: an SVG document (`image/svg+xml`).")


class MfaCode(InputModel):
    code: Code


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(
        description="Ten single-use recovery codes, shown this once: each stands in for one authenticator code."
    )


class MfaDisable(InputModel):
    """Turning two-factor authentication off takes the password and a code."""

    password: Password
    code: Code


class MfaStatus(BaseModel):
    enabled: bool = Field(description="Whether logins need a second factor.")
    pending: bool = Field(description="Whether an enrolment waits for its confirming code.")
    recovery_codes_left: int = Field(description="Unused recovery codes (0 when two-factor authentication is off).")


class MfaChallenge(BaseModel):
    """The answer of `POST /auth/token` for an account with two-factor authentication: no tokens yet, but an MFA
    token for `POST /auth/mfa`, with a code."""

    # Every field is required in the document, so that clients tell this from TokenPair by `token_type`.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    token_type: Literal["mfa"] = Field(default="mfa", description="`mfa`: tells this answer from a token pair.")
    mfa_token: str = Field(description="For `POST /auth/mfa`; not an access token.")
    expires_in: int = Field(description="Seconds until the MFA token expires.")


class MfaLogin(InputModel):
    """The second step of a login with two-factor authentication."""

    mfa_token: Annotated[str, Field(min_length=1, max_length=4096)]
    code: Code
