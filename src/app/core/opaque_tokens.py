"""Opaque secrets: recognisable, checksummed, and stored only as a keyed hash. API keys and refresh tokens use it.

A secret looks like a prefix naming its kind (`fgk_` for API keys, `fgr_` for refresh tokens) + 32 base62 characters
(190 bits of randomness) + a 6-character base62 CRC32 of what precedes it, as GitHub's token format does: secret
scanners can recognise a leaked one offline, and a mistyped or made-up one fails the checksum before any database
access. The database holds HMAC-SHA-256(pepper, secret) under a unique index and the lookup goes by that digest, so
there is no plaintext at rest and no comparison of secrets to time. The secrets are high-entropy, so a fast keyed
hash is right here; a slow password hash would make every use pay Argon2. The prefix is part of what is hashed, so
one kind's digest can never match another kind's.
"""

import hashlib
import hmac
import secrets
import string
import zlib

__all__ = ["OpaqueTokenFormat", "SecretHasher"]

_ALPHABET = string.digits + string.ascii_letters
_ALPHABET_SET = frozenset(_ALPHABET)
_BODY_LENGTH = 32  # 32 * log2(62) = 190 bits
_CHECKSUM_LENGTH = 6  # 62**6 > 2**32: any CRC32 fits


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(_ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode("ascii")), _CHECKSUM_LENGTH)


class OpaqueTokenFormat:
    """One kind of opaque secret, told apart by its prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.length = len(prefix) + _BODY_LENGTH + _CHECKSUM_LENGTH

    def generate(self) -> str:
        body = self.prefix + "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LENGTH))
        return body + _checksum(body)

    def is_well_formed(self, candidate: str) -> bool:
        """Prefix, length, alphabet and checksum; never raises, whatever the input (non-ASCII included)."""
        if len(candidate) != self.length or not candidate.startswith(self.prefix):
            return False
        if not _ALPHABET_SET.issuperset(candidate[len(self.prefix) :]):
            return False
        return _checksum(candidate[:-_CHECKSUM_LENGTH]) == candidate[-_CHECKSUM_LENGTH:]

    def hint(self, secret: str) -> str:
        """What listings show of a secret: the prefix and its last four characters (checksum characters: they reveal
        at most 24 bits about the body, which keeps more than 160 of its 190)."""
        return f"{self.prefix}…{secret[-4:]}"


class SecretHasher:
    """HMAC-SHA-256 keyed by the pepper (FORGE_API_KEY_PEPPER): the stored form of every opaque secret."""

    def __init__(self, pepper: str) -> None:
        self._pepper = pepper.encode()

    def digest(self, secret: str) -> bytes:
        return hmac.new(self._pepper, secret.encode("ascii"), hashlib.sha256).digest()

    def sign(self, message: str) -> str:
        """A keyed tag of `message` (hex), for values the service hands out and checks later without storing them
        (a session's CSRF token). The caller names the purpose in the message, so tags of one use fit no other."""
        return hmac.new(self._pepper, f"sign:{message}".encode(), hashlib.sha256).hexdigest()
