"""Resource ids in paths and bodies: `ResourceID` for a path parameter, `MAX_ID` for the range every id keeps."""

import re
from typing import Annotated

from fastapi import Path
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

__all__ = ["MAX_ID", "ResourceID"]


# Integer primary keys are 32-bit on PostgreSQL: a larger id is a clear 422, never a database error.
MAX_ID = 2**31 - 1
# ASCII digits only (`\d` would take other scripts' digits, and int() too). Zero and overlong numbers pass here,
# so that the range check reports them as it always has.
_CANONICAL_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_NOT_CANONICAL = (
    "Input should be an integer written in canonical decimal: digits only, without a sign, leading zeros, spaces, "
    "a fraction or underscores"
)


def _canonical_decimal(value: object) -> object:
    """Refuse what Pydantic's lax int parsing would take ("1.0", "+1", " 1", "01", "1_0", "%2B1"): every spelling
    of an id is a separate URL to an edge cache, so variants would let a client miss the cache at will."""
    if isinstance(value, str) and _CANONICAL_DECIMAL.fullmatch(value) is None:
        raise PydanticCustomError("int_parsing", _NOT_CANONICAL)  # the code Pydantic gives "abc"
    return value


# The schema stays `integer` (OpenAPI's `simple` style writes an integer as its canonical decimal; a `pattern`
# applies to strings only), with the spelling said in the description.
ResourceID = Annotated[
    int,
    Path(ge=1, le=MAX_ID, description="The resource's id, in canonical decimal (`42`; not `042`, `+42` or `42.0`)."),
    BeforeValidator(_canonical_decimal),
]
