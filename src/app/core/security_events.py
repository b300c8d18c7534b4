"""Security events: one structured log line each, on the `app.security` logger, for an operator's alerts and audits.

Each line is the event's name with the user's id (None when no account is known) and the request's `request_id`
(added to every line written while a request runs), plus a few ids and reasons. Never a token, a password, a
two-factor code or secret, or a digest: the callers pass ids only, and the log's redaction of secret-named keys is
the second line of defence.
Refusals and attacks are warnings; routine events are info.
"""

from enum import StrEnum

import structlog

__all__ = ["SecurityEvent", "record_security_event"]

_log = structlog.get_logger("app.security")


class SecurityEvent(StrEnum):
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGGED_OUT = "logged_out"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105 - an event's name
    SESSIONS_REVOKED = "sessions_revoked"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event's name
    PASSWORD_CHANGE_REFUSED = "password_change_refused"  # noqa: S105 - an event's name
    MFA_CHALLENGED = "mfa_challenged"  # the password was right; the login waits for the second factor
    MFA_FAILED = "mfa_failed"
    MFA_ENABLED = "mfa_enabled"
    MFA_DISABLED = "mfa_disabled"
    MFA_RECOVERY_CODE_USED = "mfa_recovery_code_used"
    MFA_RECOVERY_CODES_REGENERATED = "mfa_recovery_codes_regenerated"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 - an event's name
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an event's name
    EMAIL_VERIFIED = "email_verified"
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGE_REFUSED = "email_change_refused"
    EMAIL_CHANGED = "email_changed"
    OIDC_SIGN_IN_FAILED = "oidc_sign_in_failed"
    IDENTITY_LINKED = "identity_linked"
    IDENTITY_UNLINKED = "identity_unlinked"


_WARNINGS = frozenset(
    {
        SecurityEvent.LOGIN_FAILED,
        SecurityEvent.REFRESH_TOKEN_REUSED,
        SecurityEvent.PASSWORD_CHANGE_REFUSED,
        SecurityEvent.MFA_FAILED,
        # A recovery code stands in for a lost authenticator, or for one an attacker does not have.
        SecurityEvent.MFA_RECOVERY_CODE_USED,
        SecurityEvent.EMAIL_CHANGE_REFUSED,
        SecurityEvent.OIDC_SIGN_IN_FAILED,
    }
)


def record_security_event(event: SecurityEvent, *, user_id: int | None, **fields: str | int | None) -> None:
    """Log `event` for `user_id`, with `fields` (ids, counts, reasons: never a secret)."""
    log = _log.warning if event in _WARNINGS else _log.info
    log(event.value, security_event=True, user_id=user_id, **fields)
