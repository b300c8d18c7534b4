"""The base of every request schema: strict, frozen, no unknown fields, and no NUL character in any text.

NUL (U+0000) is refused at validation, with a pointer to the field: PostgreSQL cannot store it in text (the
request was refused only by the database, with no pointer) while SQLite stored it, and whatever reads the data
later in C (log shippers, exports, other services) cuts the string there. It is done once, in the base every input
model derives from, so that a new text field is covered without anyone remembering to.
"""

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator
from pydantic_core import PydanticCustomError

__all__ = ["NUL_MESSAGE", "InputModel", "refuse_nul"]

NUL_MESSAGE = "Text must not contain the NUL character (U+0000)"


def refuse_nul(value: str) -> str:
    """`value`, or a validation error when it holds a NUL character."""
    if "\x00" in value:
        raise PydanticCustomError("string_nul", NUL_MESSAGE)
    return value


class InputModel(BaseModel):
    """A request body: strict types (no coercion from strings), immutable, unknown fields refused."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value: object) -> object:
        if isinstance(value, str):
            refuse_nul(value)
        elif isinstance(value, SecretStr):
            refuse_nul(value.get_secret_value())
        return value
