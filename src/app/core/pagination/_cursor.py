"""Cursors: where a listing stopped, signed, and bound to the listing and filters it was made for.

A cursor is `<position>.<tag>`. The position is the JSON array of the sort-key values of the last row a page showed
(base64url, unpadded): not a secret, as the page showed those rows. The tag is the app's `SecretHasher` HMAC (keyed
by FORGE_API_KEY_PEPPER, with a purpose of its own) over the position and the *listing*: the request's path and every
query parameter but the page's own (`cursor`, `page`, `size`, `include_total`), sorted. A cursor that a client
altered, or presents to another listing (another path, another webhook's deliveries) or with other filters,
fails the tag and is refused before any SQL runs; the values the SQL compares with are therefore ones the service
wrote. Hand-written rather than itsdangerous or a JWT: the hasher the app already holds does the one HMAC, and the
cursor stays short (under 60 characters for an id).
"""

import base64
import binascii
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlencode

import orjson

from app.core.exceptions import FieldError, InvalidInputError
from app.core.opaque_tokens import SecretHasher

__all__ = ["PAGE_PARAMETERS", "CursorSeal", "InvalidCursorError", "KeyValue", "listing_of"]

# A sort key's values as a cursor carries them: datetimes travel as ISO 8601 text (see Keyset).
type KeyValue = int | str

# The page's own query parameters: a cursor may be used with another size or without the total, nothing else.
PAGE_PARAMETERS = frozenset({"cursor", "page", "size", "include_total"})
_TAG_LENGTH = 32  # hex characters: 128 bits of the HMAC-SHA-256, beyond guessing


class InvalidCursorError(InvalidInputError):
    """A cursor this listing did not make: altered, from another listing or filters, or from an older order."""

    default_detail: ClassVar[str] = (
        "The cursor is not one this listing made: it was altered, or it belongs to another listing or to other "
        "filters. Follow `next_cursor` with the same path and filters, or start again without a cursor."
    )

    def __init__(self, detail: str | None = None) -> None:
        message = detail or self.default_detail
        super().__init__(message, errors=[FieldError("#/cursor", message, "invalid_cursor", "query")])


def listing_of(path: str, query: Iterable[tuple[str, str]]) -> str:
    """The listing a request reads: its path and its filters (the query without the page's own parameters), in
    one canonical form, so that the order of the parameters does not matter."""
    filters = sorted((name, value) for name, value in query if name not in PAGE_PARAMETERS)
    return f"{path}?{urlencode(filters)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class CursorSeal:
    """Makes and opens the cursors of one listing (see `listing_of`)."""

    hasher: SecretHasher
    listing: str

    def _tag(self, position: str) -> str:
        return self.hasher.sign(f"cursor\n{self.listing}\n{position}")[:_TAG_LENGTH]

    def seal(self, values: Sequence[KeyValue]) -> str:
        position = _b64(orjson.dumps(list(values)))
        return f"{position}.{self._tag(position)}"

    def open(self, cursor: str) -> tuple[KeyValue, ...]:
        """The sort-key values the cursor carries, or InvalidCursorError (422) for any cursor not made here."""
        position, _, tag = cursor.partition(".")
        if not hmac.compare_digest(tag.encode(), self._tag(position).encode()):
            raise InvalidCursorError
        try:
            values = orjson.loads(_unb64(position))
        except (binascii.Error, ValueError):
            values = None
        # Only a cursor signed with this key gets here, so only a change of this code's format could fail this.
        if not isinstance(values, list) or not all(
            isinstance(v, int | str) and not isinstance(v, bool) for v in values
        ):
            raise InvalidCursorError
        return tuple(values)
