"""Why a sign-in through a provider failed: the `error` code the frontend receives, and the error that carries it.

A failed sign-in is not a problem+json answer: the browser is in the middle of a navigation, so the callback sends it
to the frontend with `?error=<code>` (and logs what happened, with the request id). The codes are a contract with
frontends (docs/oidc.md); the detail is for the log only.
"""

from enum import StrEnum

from app.core.exceptions import AuthenticationError, ConflictError

__all__ = ["InvalidExchangeCodeError", "LastSignInMethodError", "SignInError", "SignInFailedError"]


class SignInError(StrEnum):
    ACCESS_DENIED = "access-denied"  # the user declined at the provider
    PROVIDER_ERROR = "provider-error"  # the provider refused or answered what we cannot use
    PROVIDER_UNAVAILABLE = "provider-unavailable"  # unreachable, too slow, or failing (5xx)
    INVALID_STATE = "invalid-state"  # missing, not this browser's, expired or already used
    INVALID_ID_TOKEN = "invalid-id-token"  # noqa: S105 - a code; the signature, iss, aud, exp, iat or nonce failed
    INVALID_REDIRECT = "invalid-redirect"  # redirect_to is not a path under the frontend
    UNKNOWN_PROVIDER = "unknown-provider"
    EMAIL_REQUIRED = "email-required"  # the provider gave no e-mail address for a new account
    ACCOUNT_EXISTS = "account-exists"  # an account has the address, and it cannot be linked automatically
    ACCOUNT_DISABLED = "account-disabled"
    IDENTITY_IN_USE = "identity-in-use"  # linking an identity that is another user's
    NOT_SIGNED_IN = "not-signed-in"  # a link whose user is gone


class SignInFailedError(Exception):
    """A sign-in or link that ends on the frontend with `?error=<code>`."""

    def __init__(self, code: SignInError, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.redirect_to: str | None = None  # the flow's landing path, once the flow is known


class LastSignInMethodError(ConflictError):
    """Unlinking this identity would leave the account with no way to sign in."""

    slug = "last-sign-in-method"
    title = "Last Sign-In Method"


class InvalidExchangeCodeError(AuthenticationError):
    """The one-time code is unknown, expired or used."""
