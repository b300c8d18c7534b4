"""Field-level encryption: `EncryptedText`, a column type that encrypts on write and decrypts on read.

MultiFernet (AES-128-CBC + HMAC-SHA-256, from `cryptography`) over `FORGE_ENCRYPTION_KEYS`, newest first: values
are encrypted with the newest key and decrypted with whichever key made them, so a new key can be added without
downtime and `forge encryption rotate` then re-encrypts old values. docs/security.md says why Fernet rather than
AES-GCM with per-row associated data. A value that no configured key can decrypt raises `DecryptionError`; it
never comes back as garbage.

`BlindIndex` is the keyed digest that lets a column be searched by equality without decrypting every row.
"""

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

from app.config import Settings

__all__ = [
    "DecryptionError",
    "EncryptedText",
    "EncryptionKeys",
    "blind_index",
    "configure_encryption",
    "current_keys",
    "load_keys",
]

_log = structlog.get_logger("app.encryption")
DEV_KEY_FILE = Path("var") / "encryption.keys"


class DecryptionError(RuntimeError):
    """A stored value cannot be decrypted with any configured key (a missing old key, or tampering)."""


class EncryptionKeys:
    """The configured keys: `fernet` encrypts with the first and decrypts with any; `blind` keys the indexes."""

    def __init__(self, keys: list[bytes], *, blind_key: bytes) -> None:
        if not keys:
            msg = "at least one encryption key is needed"
            raise ValueError(msg)
        self.primary = Fernet(keys[0])
        self.fernet = MultiFernet([Fernet(key) for key in keys])
        self._blind_key = blind_key

    def encrypt(self, plaintext: str) -> str:
        return self.fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self.fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            msg = "a stored value cannot be decrypted with any key in FORGE_ENCRYPTION_KEYS"
            raise DecryptionError(msg) from exc

    def is_current(self, token: str) -> bool:
        """Whether `token` is already encrypted with the newest key (rotation skips it)."""
        try:
            self.primary.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def rotate(self, token: str) -> str:
        try:
            return self.fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            msg = "a stored value cannot be decrypted with any key in FORGE_ENCRYPTION_KEYS"
            raise DecryptionError(msg) from exc

    def blind_index(self, normalised: str) -> bytes:
        return hmac.new(self._blind_key, normalised.encode(), hashlib.sha256).digest()


def _decode_key(text: str, setting: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip())
    except (binascii.Error, ValueError) as exc:
        msg = f"{setting}: not urlsafe base64"
        raise ValueError(msg) from exc
    if len(raw) != 32:  # noqa: PLR2004 - the key size
        msg = f"{setting}: each key must be 32 bytes (urlsafe base64 of 32 random bytes)"
        raise ValueError(msg)
    return text.strip().encode()


def _development_keys(directory: Path) -> tuple[str, str]:
    path = directory / DEV_KEY_FILE.name
    if not path.exists():
        # Several workers may start at once: each writes a complete candidate file and tries to hard-link it into
        # place, which succeeds for exactly one of them; everybody then reads the winner's keys.
        directory.mkdir(parents=True, exist_ok=True)
        candidate = directory / f".{DEV_KEY_FILE.name}.{os.getpid()}.{secrets.token_hex(4)}"
        encryption_key = Fernet.generate_key().decode()
        blind_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
        with os.fdopen(descriptor, "w") as file:
            file.write(f"{encryption_key}\n{blind_key}\n")
        try:
            os.link(candidate, path)
            _log.warning(
                "encryption_keys_generated",
                path=str(path),
                hint="development only: set FORGE_ENCRYPTION_KEYS and FORGE_BLIND_INDEX_KEY for anything else",
            )
        except FileExistsError:
            pass  # another process won the race; its keys are the ones
        finally:
            candidate.unlink()
    encryption_key, blind_key = path.read_text().split()
    return encryption_key, blind_key


def load_keys(settings: Settings, *, key_directory: Path = DEV_KEY_FILE.parent) -> EncryptionKeys:
    """The keys from the settings; outside production, generated once into `key_directory` when unset."""
    configured = settings.encryption_keys.get_secret_value() if settings.encryption_keys else ""
    blind = settings.blind_index_key.get_secret_value() if settings.blind_index_key else ""
    if not configured or not blind:
        if settings.is_production:  # Settings refuses this already; kept as a guard for direct callers
            msg = "FORGE_ENCRYPTION_KEYS and FORGE_BLIND_INDEX_KEY are required in production"
            raise ValueError(msg)
        generated_key, generated_blind = _development_keys(key_directory)
        configured = configured or generated_key
        blind = blind or generated_blind
    keys = [_decode_key(part, "FORGE_ENCRYPTION_KEYS") for part in configured.split(",") if part.strip()]
    if not keys:
        msg = "FORGE_ENCRYPTION_KEYS: no key given"
        raise ValueError(msg)
    return EncryptionKeys(keys, blind_key=base64.urlsafe_b64decode(_decode_key(blind, "FORGE_BLIND_INDEX_KEY")))


# The one module-level holder in src/app, on purpose. The column types below encrypt and decrypt inside SQLAlchemy's
# bind and result processing, which has no request, no session info it could be given per call, and no dependency
# injection: a TypeDecorator is instantiated at import, in the models. So the keys are set here, once per start (by
# the app's lifespan, or by the CLI command that needs them), and read by `current_keys()`. Everything else that
# lives as long as the app is in its `AppContext` (app/core/context.py).
_current: EncryptionKeys | None = None


def configure_encryption(keys: EncryptionKeys) -> None:
    """Install the keys the column types use (a column type has no other way to reach application state)."""
    global _current  # noqa: PLW0603 - see above: the column types' only way to the keys
    _current = keys


def current_keys() -> EncryptionKeys:
    if _current is None:
        msg = "encryption keys are not configured (the app's lifespan configures them)"
        raise RuntimeError(msg)
    return _current


def blind_index(normalised: str) -> bytes:
    return current_keys().blind_index(normalised)


class EncryptedText(TypeDecorator[str]):
    """Text encrypted at rest. Sized as Text: a Fernet token is ~1.4x the plaintext plus ~73 bytes."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:  # noqa: ARG002
        return None if value is None else current_keys().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:  # noqa: ARG002
        return None if value is None else current_keys().decrypt(value)
