"""Standard Webhooks signing (https://www.standardwebhooks.com), by the `standardwebhooks` library: secrets, and
the headers of a signed message.

A secret is `whsec_` and the base64 of 32 random bytes. The signature is HMAC-SHA256 over
`{webhook-id}.{webhook-timestamp}.{body}`, sent as `v1,<base64>` in `webhook-signature`; while a rotated-out secret
still signs, both signatures are sent, space-separated, and a receiver accepts the message if either verifies.
"""

import base64
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from app import DISTRIBUTION, __version__

__all__ = ["SECRET_PREFIX", "message_body", "new_message_id", "new_secret", "signed_headers"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix that marks a secret, not one
_SECRET_BYTES = 32
USER_AGENT = f"{DISTRIBUTION}-webhooks/{__version__}"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def new_message_id() -> str:
    """A `webhook-id`: unique per message, the same on each of its attempts (receivers deduplicate by it)."""
    return f"msg_{secrets.token_hex(16)}"


def message_body(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    """The body Standard Webhooks defines: `{"type", "timestamp", "data"}`, the timestamp ISO 8601 in UTC."""
    timestamp = occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event_type, "timestamp": timestamp, "data": data}, separators=(",", ":"))


def signed_headers(
    signing_secrets: Sequence[str], *, message_id: str, sent_at: datetime, body: bytes
) -> dict[str, str]:
    """The headers of one attempt: signed at `sent_at` (receivers refuse a timestamp five minutes off) with every
    secret that signs now, the newest first."""
    signatures = [Webhook(secret).sign(message_id, sent_at, body) for secret in signing_secrets]
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
