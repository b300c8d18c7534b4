"""Money as an exact decimal: accepted as a JSON number or a decimal string, always returned as a string.

`Money` never passes through a binary float: `ForgeRoute` parses JSON numbers with a fraction as `Decimal`, and
this validator refuses a float that reaches it by any other road. Amounts are returned as strings with exactly
two fraction digits (`"19.90"`), which every JSON parser reads without rounding.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, GetJsonSchemaHandler, PlainSerializer
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

__all__ = ["CENT", "Money", "MoneyOut", "format_money"]

CENT = Decimal("0.01")
_DECIMAL_STRING = re.compile(r"[+-]?\d+(\.\d+)?")


def _to_decimal(value: object) -> object:
    if isinstance(value, bool | float):
        msg = "give an amount as a JSON number or a decimal string"
        raise ValueError(msg)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        # Plain decimal notation only: Decimal() alone would also take "1_0", "1e3" and "NaN".
        if not _DECIMAL_STRING.fullmatch(value.strip()):
            msg = "not a decimal number (write it like 19.99)"
            raise ValueError(msg)
        try:
            return Decimal(value.strip())
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
            msg = "not a decimal number"
            raise ValueError(msg) from exc
    return value


def format_money(value: Decimal) -> str:
    return format(value.quantize(CENT), "f")


_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


def _json_number(value: Any) -> int | float:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


class _MoneyJsonSchema:
    """Document Money's constraints in JSON Schema terms.

    Pydantic cannot apply a Decimal's constraints to its `anyOf` (a number or a string), so it leaves them as
    `gt`, `lt`, `decimal_places`... keys, which are not JSON Schema and which clients and generators ignore: the
    bounds and the two fraction digits went undocumented. They belong on the number; the string gets a pattern.
    """

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        number: dict[str, Any] = {"type": "number"}
        for key, keyword in _BOUNDS.items():
            if key in json_schema:
                number[keyword] = _json_number(json_schema.pop(key))
        places = json_schema.pop("decimal_places", None)
        fraction = r"(\.\d+)?" if places is None else rf"(\.\d{{1,{places}}})?"
        if places is not None:
            number["multipleOf"] = _json_number(Decimal(1).scaleb(-places))
        string = {"type": "string", "pattern": rf"^[+-]?\d+{fraction}$"}
        return {**json_schema, "anyOf": [number, string]}


# The JSON schema hook last, so that it sees the constraints of the field that uses Money (`Field(gt=0)`).
Money = Annotated[
    Decimal, BeforeValidator(_to_decimal), Field(decimal_places=2, allow_inf_nan=False), _MoneyJsonSchema()
]
MoneyOut = Annotated[Decimal, PlainSerializer(format_money, return_type=str, when_used="json")]
