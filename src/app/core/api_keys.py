"""API key format and hashing: recognisable, checksummed, and stored only as a keyed hash.

A key looks like `fgk_` + 32 base62 characters (190 bits of randomness) + a 6-character base62 CRC32 of what
precedes it, as GitHub's token format does: secret scanners can recognise a leaked key offline, and a mistyped key
fails the checksum before any database access. The database holds HMAC-SHA-256(pepper, key) under a unique index
and the lookup goes by that digest, so there is no plaintext at rest and no comparison of secrets to time. Keys
are high-entropy, so a fast keyed hash is right here; a slow password hash would make every request pay Argon2.
"""

import hashlib
import hmac
import secrets
import string
import zlib

__all__ = ["API_KEY_PREFIX", "ApiKeyHasher", "generate_api_key", "is_well_formed", "key_hint"]

API_KEY_PREFIX = "fgk_"
_ALPHABET = string.digits + string.ascii_letters
_ALPHABET_SET = frozenset(_ALPHABET)
_BODY_LENGTH = 32  # 32 * log2(62) = 190 bits
_CHECKSUM_LENGTH = 6  # 62**6 > 2**32: any CRC32 fits
_KEY_LENGTH = len(API_KEY_PREFIX) + _BODY_LENGTH + _CHECKSUM_LENGTH


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(_ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode("ascii")), _CHECKSUM_LENGTH)


def generate_api_key() -> str:
    body = API_KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LENGTH))
    return body + _checksum(body)


def is_well_formed(candidate: str) -> bool:
    """Prefix, length, alphabet and checksum; never raises, whatever the input (non-ASCII included)."""
    if len(candidate) != _KEY_LENGTH or not candidate.startswith(API_KEY_PREFIX):
        return False
    if not _ALPHABET_SET.issuperset(candidate[len(API_KEY_PREFIX) :]):
        return False
    return _checksum(candidate[:-_CHECKSUM_LENGTH]) == candidate[-_CHECKSUM_LENGTH:]


def key_hint(key: str) -> str:
    """What listings show of a key: the prefix and its last four characters (checksum characters: they reveal
    at most 24 bits about the body, which keeps more than 160 of its 190)."""
    return f"{API_KEY_PREFIX}…{key[-4:]}"


class ApiKeyHasher:
    def __init__(self, pepper: str) -> None:
        self._pepper = pepper.encode()

    def digest(self, key: str) -> bytes:
        return hmac.new(self._pepper, key.encode("ascii"), hashlib.sha256).digest()
