"""How to serialise a page of products: Pydantic's Rust serialiser against orjson of `model_dump()`.

Run: `uv run python -m benchmarks.serialization`. In-process on purpose: it isolates the serialiser, which is
the only thing that differs between the candidates (the HTTP stack around them is identical).
"""

import statistics
import timeit
from datetime import UTC, datetime
from decimal import Decimal

import orjson
from pydantic import TypeAdapter

from app.core.money import format_money
from app.core.pagination import Page, PageParams
from app.features.products.schemas import ProductRead

ROUNDS = 7
NUMBER = 2000


def _page() -> Page[ProductRead]:
    now = datetime.now(UTC)
    items = [
        ProductRead(id=i, name=f"Product {i}", price=Decimal("19.90"), quantity=i, created_at=now, updated_at=now)
        for i in range(1, 21)
    ]
    return Page[ProductRead].build(items, total=10_000, params=PageParams(page=1, size=20))


def _orjson_default(value: object) -> str:
    if isinstance(value, Decimal):
        return format_money(value)
    raise TypeError


def main() -> None:
    page = _page()
    adapter = TypeAdapter(Page[ProductRead])
    candidates = {
        "pydantic dump_json (FastAPI's response_model path)": lambda: adapter.dump_json(page),
        "orjson.dumps(model_dump())": lambda: orjson.dumps(page.model_dump(), default=_orjson_default),
        "orjson.dumps(model_dump(mode='json'))": lambda: orjson.dumps(page.model_dump(mode="json")),
    }
    if orjson.loads(adapter.dump_json(page)) != orjson.loads(orjson.dumps(page.model_dump(mode="json"))):
        msg = "the candidates disagree on the output; the comparison would be meaningless"
        raise SystemExit(msg)
    medians = {
        name: statistics.median(timeit.repeat(fn, number=NUMBER, repeat=ROUNDS)) / NUMBER * 1e6
        for name, fn in candidates.items()
    }
    baseline = next(iter(medians.values()))
    print(f"Page of 20 products, median of {ROUNDS} rounds x {NUMBER} calls")
    for name, micros in medians.items():
        print(f"  {name:<52} {micros:8.1f} us   x{micros / baseline:.2f} of the baseline")


if __name__ == "__main__":
    main()
