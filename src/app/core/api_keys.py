"""API keys: `fgk_` opaque secrets (app.core.opaque_tokens), checksummed and stored only as a keyed hash.

A key looks like `fgk_` + 32 base62 characters (190 bits of randomness) + a 6-character base62 CRC32 of what
precedes it: secret scanners recognise a leaked key offline, and a mistyped key fails the checksum before any
database access. The database holds HMAC-SHA-256(pepper, key) under a unique index.
"""

from app.core.opaque_tokens import OpaqueTokenFormat, SecretHasher

__all__ = ["API_KEYS", "API_KEY_PREFIX", "ApiKeyHasher", "generate_api_key", "is_well_formed", "key_hint"]

API_KEY_PREFIX = "fgk_"
API_KEYS = OpaqueTokenFormat(API_KEY_PREFIX)
# The pepper's hasher; the name API keys have always used.
ApiKeyHasher = SecretHasher


def generate_api_key() -> str:
    return API_KEYS.generate()


def is_well_formed(candidate: str) -> bool:
    """Prefix, length, alphabet and checksum; never raises, whatever the input (non-ASCII included)."""
    return API_KEYS.is_well_formed(candidate)


def key_hint(key: str) -> str:
    """What listings show of a key: the prefix and its last four characters."""
    return API_KEYS.hint(key)
