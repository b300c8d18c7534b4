"""Optional two-factor authentication: TOTP (RFC 6238, with pyotp) and single-use recovery codes.

Enrolling stores a new secret, pending; a code from the authenticator confirms it, which turns two-factor
authentication on and hands out ten recovery codes. From then on a login's right password earns an MFA token (a JWT
of its own type, minutes long: app.core.security), and a code completes the login.

- The secret is encrypted at rest (`EncryptedText`): checking a code needs it in clear, so it cannot be hashed.
- A code is accepted within one 30-second step either side of the server's clock (skew), and once: the step of the
  last code accepted is stored, and a code of that step or an earlier one is refused (RFC 6238 §5.2). Two requests
  with one code race on a conditional UPDATE; one wins.
- Recovery codes are 16 characters of Crockford's base32 (80 random bits), stored as HMAC-SHA-256 under the pepper,
  bound to their user and purpose. A fast keyed hash is right for them, as for API keys: 80 random bits cannot be
  guessed offline even by someone holding the database and the pepper, so Argon2's slowness would buy nothing, while
  checking a presented code against ten salted Argon2 hashes would cost every attempt ten hashes. A code works once.
- A wrong code is a security event (`mfa_failed`) and spends the account's budget of wrong codes (the router's).
"""

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import pyotp
import segno
from pyotp.exceptions import OTPVerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.exceptions import AuthenticationError, ConflictError, FieldError, InvalidInputError
from app.core.opaque_tokens import SecretHasher
from app.core.security import MfaClaims, PasswordHasher, TokenError, TokenService
from app.core.security_events import SecurityEvent, record_security_event
from app.features.mfa import repository

__all__ = [
    "RECOVERY_CODE_COUNT",
    "Account",
    "Challenge",
    "Enrolment",
    "LoginCodeError",
    "MfaAlreadyEnabledError",
    "MfaNotEnabledError",
    "MfaNotPendingError",
    "MfaState",
    "WrongCodeError",
    "challenge",
    "confirm_enrolment",
    "disable",
    "read_challenge",
    "regenerate_recovery_codes",
    "start_enrolment",
    "state",
    "verify_login",
]

RECOVERY_CODE_COUNT = 10
TOTP_DIGITS = 6
VALID_WINDOW = 1  # steps either side of the server's: a client clock up to ~30 s off still works
_RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
_RECOVERY_LENGTH = 16  # 80 bits
_RECOVERY_GROUP = 4
_CROCKFORD_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = str.maketrans("", "", " -")
_BAD_MFA_TOKEN = "The MFA token is invalid or has expired: log in again."  # noqa: S105 - a message, not a secret

type Purpose = Literal["login", "enrol", "confirm", "disable", "recovery_codes"]
type Factor = Literal["totp", "recovery_code"]


class WrongCodeError(InvalidInputError):
    """A signed-in operation's code is wrong, replayed or spent (422 at `#/code`)."""

    def __init__(self) -> None:
        error = FieldError(
            "#/code", "is not a valid code: a current authenticator code or an unused recovery code", "invalid_code"
        )
        super().__init__("The code is not valid.", errors=[error])


class LoginCodeError(AuthenticationError):
    """The code that was to complete a login is wrong, replayed or spent (401)."""


class MfaAlreadyEnabledError(ConflictError):
    slug = "mfa-already-enabled"
    title = "Two-Factor Authentication Already On"


class MfaNotEnabledError(ConflictError):
    slug = "mfa-not-enabled"
    title = "Two-Factor Authentication Off"


class MfaNotPendingError(ConflictError):
    slug = "mfa-not-pending"
    title = "No Two-Factor Enrolment Pending"


class Account(Protocol):
    """What two-factor authentication needs of a user: the id, the e-mail address (the authenticator's label) and
    the password hash (enrolling and disabling need the password; an account that signs in only through a provider has
    none, and no password matches it)."""

    @property
    def id(self) -> int: ...
    @property
    def email(self) -> str: ...
    @property
    def hashed_password(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str  # base32, for typing into an authenticator by hand
    uri: str  # otpauth://totp/...
    qr_code_svg: str  # the URI as a QR code


@dataclass(frozen=True, slots=True)
class MfaState:
    enabled: bool
    pending: bool
    recovery_codes_left: int


@dataclass(frozen=True, slots=True)
class Challenge:
    """A login's answer when a second factor is needed: the MFA token, and seconds until it expires."""

    mfa_token: str
    expires_in: int


def _totp(secret: str) -> pyotp.TOTP:
    # SHA-1, 6 digits, 30 s: what every authenticator app reads from a QR code (some ignore any other parameters).
    return pyotp.TOTP(secret, digits=TOTP_DIGITS)


def _normalised(code: str) -> str:
    return code.translate(_SEPARATORS).upper()


def _recovery_digest(hasher: SecretHasher, user_id: int, code: str) -> bytes:
    return hasher.digest(f"mfa-recovery-code:{user_id}:{code}")


def _new_recovery_codes() -> list[str]:
    """Ten codes, each shown in groups of four (`7GQ4-K2MZ-X9DA-PB3N`); separators and case do not matter."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        body = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(body[i : i + _RECOVERY_GROUP] for i in range(0, _RECOVERY_LENGTH, _RECOVERY_GROUP)))
    return codes


async def _store_recovery_codes(session: AsyncSession, *, user_id: int, hasher: SecretHasher) -> list[str]:
    codes = _new_recovery_codes()
    digests = [_recovery_digest(hasher, user_id, _normalised(code)) for code in codes]
    await repository.replace_recovery_codes(session, user_id=user_id, digests=digests)
    return codes


def _is_totp_code(code: str) -> bool:
    """Six ASCII digits (pyotp would also take other scripts' digits, after NFKC normalisation: one spelling here)."""
    return code.isascii() and code.isdigit() and len(code) == TOTP_DIGITS


def _totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is, within the window around `now`; None for any other code."""
    if not _is_totp_code(code):
        return None
    try:
        return _totp(secret).verify_and_get_timecode(code, for_time=now, valid_window=VALID_WINDOW)
    except OTPVerificationError:
        return None


async def _use_totp_code(session: AsyncSession, *, user_id: int, secret: str, code: str, now: datetime) -> str | None:
    """Accept a TOTP code once (its step recorded); None when accepted, else why not."""
    step = _totp_step(secret, code, now)
    if step is None:
        return "wrong_code"
    return None if await repository.use_step(session, user_id=user_id, step=step) else "replayed_code"


async def _use_recovery_code(
    session: AsyncSession, *, user_id: int, code: str, hasher: SecretHasher, now: datetime, purpose: Purpose
) -> str | None:
    """Spend an unused recovery code; None when spent now, else why not."""
    digest = _recovery_digest(hasher, user_id, code.translate(_CROCKFORD_ALIASES))
    if await repository.use_recovery_code(session, user_id=user_id, digest=digest, now=now):
        left = await repository.count_unused_recovery_codes(session, user_id)
        record_security_event(
            SecurityEvent.MFA_RECOVERY_CODE_USED, user_id=user_id, purpose=purpose, recovery_codes_left=left
        )
        return None
    used = await repository.recovery_code_was_used(session, user_id=user_id, digest=digest)
    return "spent_recovery_code" if used else "wrong_code"


async def _check_code(
    session: AsyncSession,
    *,
    user_id: int,
    secret: str,
    code: str,
    hasher: SecretHasher,
    now: datetime,
    purpose: Purpose,
) -> Factor | None:
    """Accept a code of the user's enabled credential, once: a TOTP code (6 ASCII digits) or an unused recovery code
    (16 characters). None, with an `mfa_failed` event, for anything else."""
    normalised = _normalised(code)
    factor: Factor | None = None
    if _is_totp_code(normalised):
        factor = "totp"
        failure = await _use_totp_code(session, user_id=user_id, secret=secret, code=normalised, now=now)
    elif len(normalised) == _RECOVERY_LENGTH:
        factor = "recovery_code"
        failure = await _use_recovery_code(
            session, user_id=user_id, code=normalised, hasher=hasher, now=now, purpose=purpose
        )
    else:
        failure = "wrong_code"
    if failure is not None:
        record_security_event(SecurityEvent.MFA_FAILED, user_id=user_id, purpose=purpose, reason=failure)
        return None
    return factor


async def _check_password(account: Account, password: str, passwords: PasswordHasher, purpose: Purpose) -> None:
    valid, _ = await passwords.verify(password, account.hashed_password)
    if not valid:
        record_security_event(SecurityEvent.MFA_FAILED, user_id=account.id, purpose=purpose, reason="wrong_password")
        error = FieldError("#/password", "is not the account's password", "wrong_password")
        raise InvalidInputError("The password is not right.", errors=[error])


async def _enabled_secret(session: AsyncSession, user_id: int) -> str:
    credential = await repository.get_credential(session, user_id)
    if credential is None or credential.enabled_at is None:
        msg = "Two-factor authentication is not on for this account."
        raise MfaNotEnabledError(msg)
    return credential.secret


async def state(session: AsyncSession, *, user_id: int) -> MfaState:
    """Whether the user's two-factor authentication is on, or an enrolment waits for its code; unused recovery
    codes."""
    credential = await repository.get_credential(session, user_id)
    enabled = credential is not None and credential.enabled_at is not None
    return MfaState(
        enabled=enabled,
        pending=credential is not None and not enabled,
        recovery_codes_left=await repository.count_unused_recovery_codes(session, user_id) if enabled else 0,
    )


async def start_enrolment(
    session: AsyncSession, *, account: Account, password: str, passwords: PasswordHasher, issuer: str
) -> Enrolment:
    """A new secret, pending until a code from it confirms it (`confirm_enrolment`); it replaces a pending one.
    Needs the password: a stolen access token must not put the account under its thief's authenticator."""
    await _check_password(account, password, passwords, "enrol")
    credential = await repository.get_credential(session, account.id)
    if credential is not None and credential.enabled_at is not None:
        msg = "Two-factor authentication is on already: disable it first to enrol another authenticator."
        raise MfaAlreadyEnabledError(msg)
    secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
    await repository.start_enrolment(session, user_id=account.id, secret=secret, now=utcnow())
    uri = _totp(secret).provisioning_uri(name=account.email, issuer_name=issuer)
    qr_code = segno.make_qr(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")
    return Enrolment(secret=secret, uri=uri, qr_code_svg=qr_code)


async def confirm_enrolment(
    session: AsyncSession, *, user_id: int, code: str, hasher: SecretHasher, now: datetime
) -> list[str]:
    """Turn two-factor authentication on with a code of the pending secret; the ten recovery codes, shown once."""
    credential = await repository.get_credential(session, user_id)
    if credential is None:
        msg = "No enrolment waits for a code: start one with POST /api/v1/users/me/mfa/totp."
        raise MfaNotPendingError(msg)
    if credential.enabled_at is not None:
        msg = "Two-factor authentication is on already."
        raise MfaAlreadyEnabledError(msg)
    step = _totp_step(credential.secret, _normalised(code), now)
    if step is None or not await repository.enable(session, pending=credential, step=step, now=now):
        record_security_event(SecurityEvent.MFA_FAILED, user_id=user_id, purpose="confirm", reason="wrong_code")
        raise WrongCodeError
    codes = await _store_recovery_codes(session, user_id=user_id, hasher=hasher)
    record_security_event(SecurityEvent.MFA_ENABLED, user_id=user_id, recovery_codes=len(codes))
    return codes


async def disable(
    session: AsyncSession,
    *,
    account: Account,
    password: str,
    passwords: PasswordHasher,
    code: str,
    hasher: SecretHasher,
    now: datetime,
) -> None:
    """Turn two-factor authentication off, given the password and a code (TOTP or recovery); the secret and the
    recovery codes are deleted. The password is checked first: without it, no code is even looked at."""
    secret = await _enabled_secret(session, account.id)
    await _check_password(account, password, passwords, "disable")
    if (
        await _check_code(
            session, user_id=account.id, secret=secret, code=code, hasher=hasher, now=now, purpose="disable"
        )
        is None
    ):
        raise WrongCodeError
    await repository.delete_credential(session, account.id)
    record_security_event(SecurityEvent.MFA_DISABLED, user_id=account.id)


async def regenerate_recovery_codes(
    session: AsyncSession, *, user_id: int, code: str, hasher: SecretHasher, now: datetime
) -> list[str]:
    """Ten new recovery codes, given a code (TOTP or recovery); the earlier ones stop working."""
    secret = await _enabled_secret(session, user_id)
    if (
        await _check_code(
            session, user_id=user_id, secret=secret, code=code, hasher=hasher, now=now, purpose="recovery_codes"
        )
        is None
    ):
        raise WrongCodeError
    codes = await _store_recovery_codes(session, user_id=user_id, hasher=hasher)
    record_security_event(SecurityEvent.MFA_RECOVERY_CODES_REGENERATED, user_id=user_id, recovery_codes=len(codes))
    return codes


async def challenge(session: AsyncSession, *, user_id: int, tokens: TokenService) -> Challenge | None:
    """For a login whose password was right: an MFA token if the user has two-factor authentication on, else None
    (the login goes straight on to its session)."""
    credential = await repository.get_credential(session, user_id)
    if credential is None or credential.enabled_at is None:
        return None
    issued = tokens.issue_mfa(user_id=user_id)
    record_security_event(SecurityEvent.MFA_CHALLENGED, user_id=user_id)
    return Challenge(mfa_token=issued.token, expires_in=issued.expires_in)


def read_challenge(tokens: TokenService, mfa_token: str) -> MfaClaims:
    """The user and id of a valid MFA token; 401 for anything else (expired, forged, an access token)."""
    try:
        return tokens.mfa(mfa_token)
    except TokenError as exc:
        raise AuthenticationError(_BAD_MFA_TOKEN) from exc


async def verify_login(
    session: AsyncSession, *, user_id: int, code: str, hasher: SecretHasher, now: datetime
) -> Factor:
    """Accept the second factor of a login (TOTP or recovery code, once); `LoginCodeError` (401) otherwise, and if
    two-factor authentication was turned off since the password was checked."""
    credential = await repository.get_credential(session, user_id)
    if credential is None or credential.enabled_at is None:
        raise AuthenticationError(_BAD_MFA_TOKEN)
    factor = await _check_code(
        session, user_id=user_id, secret=credential.secret, code=code, hasher=hasher, now=now, purpose="login"
    )
    if factor is None:
        msg = "The code is not valid: give a current authenticator code or an unused recovery code."
        raise LoginCodeError(msg)
    return factor
