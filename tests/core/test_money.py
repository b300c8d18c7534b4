from decimal import Decimal
from typing import Annotated

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.money import Money, MoneyOut, format_money


class Priced(BaseModel):
    model_config = ConfigDict(strict=True)

    price: Annotated[Money, Field(gt=0)]


class Shown(BaseModel):
    price: MoneyOut


@pytest.mark.parametrize(
    ("given", "expected"), [(Decimal("19.99"), "19.99"), (5, "5"), ("0.10", "0.10"), (" 7.5 ", "7.5")]
)
def test_money_accepts_exact_inputs(given: object, expected: str) -> None:
    assert Priced.model_validate({"price": given}).price == Decimal(expected)


@pytest.mark.parametrize("given", [19.99, True, "abc", "NaN", "Infinity", "1_0", "1e3", Decimal("1.001"), [1]])
def test_money_refuses_floats_booleans_non_numbers_and_extra_places(given: object) -> None:
    with pytest.raises(ValidationError):
        Priced.model_validate({"price": given})


def test_money_is_returned_as_a_string_with_two_places() -> None:
    assert Shown(price=Decimal("19.9")).model_dump_json() == '{"price":"19.90"}'
    assert format_money(Decimal(100)) == "100.00"


class Bounded(BaseModel):
    price: Annotated[Money, Field(gt=0, lt=Decimal(10000))]
    floor: Annotated[Money, Field(ge=0, le=Decimal("99.99"))] | None = None


def test_money_documents_its_bounds_and_places_in_json_schema_terms() -> None:
    """Regression (found by fuzzing): the bounds were `gt`/`lt`/`decimal_places` keys, which JSON Schema ignores."""
    properties = Bounded.model_json_schema()["properties"]
    assert properties["price"]["anyOf"] == [
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10000, "multipleOf": 0.01},
        {"type": "string", "pattern": r"^[+-]?\d+(\.\d{1,2})?$"},
    ]
    assert properties["floor"]["anyOf"][0] == {"type": "number", "minimum": 0, "maximum": 99.99, "multipleOf": 0.01}
    assert properties["floor"]["anyOf"][2] == {"type": "null"}
    for schema in (properties["price"], properties["floor"]):
        assert not {"gt", "ge", "lt", "le", "decimal_places"} & set(schema)
