"""Money as an exact decimal: accepted as a JSON number or a decimal string, always returned as a string.

`Money` never passes through a binary float: `ForgeRoute` parses JSON numbers with a fraction as `Decimal`, and
this validator refuses a float that reaches it by any other road. Amounts are returned as strings with exactly
two fraction digits (`"19.90"`), which every JSON parser reads without rounding.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer

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


Money = Annotated[Decimal, BeforeValidator(_to_decimal), Field(decimal_places=2, allow_inf_nan=False)]
MoneyOut = Annotated[Decimal, PlainSerializer(format_money, return_type=str, when_used="json")]
