"""SQL for products; the stock reservation is one conditional UPDATE, so concurrent orders cannot oversell.

The public reads (`read`, `read_page`, `count`) are Core statements built once, here at import, with named
parameters, and run by the app's `Reader` (core/reads.py): no statement is built, compiled or keyed per request,
and no ORM entity is loaded for an answer that only reads. A page chooses one of 32 prebuilt statements (each
filter present or not, counting or not, by number or after a cursor). The writes load and change ORM entities in the
request's transaction (`get`).
"""

from collections.abc import Sequence
from decimal import Decimal
from itertools import product
from types import MappingProxyType
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Integer, Row, Select, String, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.pagination import Keyset, PageParams
from app.core.reads import Reader
from app.features.products.models import Product, ProductID
from app.features.products.schemas import Reservation

__all__ = [
    "BY_ID",
    "SORTABLE",
    "ProductQuery",
    "add",
    "count",
    "delete",
    "get",
    "read",
    "read_page",
    "read_sorted",
    "reserve",
    "restock",
]

# The listing's order; the primary key's index serves it, a cursor page starting at its position at any depth.
BY_ID = Keyset(Product.id)
_READ_COLUMNS = (Product.id, Product.name, Product.price, Product.quantity, Product.created_at, Product.updated_at)
_BY_ID = select(*_READ_COLUMNS).where(Product.id == bindparam("product_id"))
# The escape character of SQLAlchemy's own `autoescape`, which takes a literal only (not a parameter).
_LIKE_ESCAPE = "/"

# The columns the admin console's listing may be sorted by.
SORTABLE = {"id": Product.id, "name": Product.name, "price": Product.price, "quantity": Product.quantity}


class ProductQuery(NamedTuple):
    name_contains: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None

    def shape(self) -> tuple[bool, bool, bool]:
        """Which filters are given: the key of the page's prebuilt statements."""
        return bool(self.name_contains), self.min_price is not None, self.max_price is not None

    def parameters(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if self.name_contains:
            pattern = self.name_contains.lower()
            for special in (_LIKE_ESCAPE, "%", "_"):  # the escape character first: matched literally, all three
                pattern = pattern.replace(special, _LIKE_ESCAPE + special)
            values["name_pattern"] = pattern
        if self.min_price is not None:
            values["min_price"] = self.min_price
        if self.max_price is not None:
            values["max_price"] = self.max_price
        return values


def _conditions(name: bool, min_price: bool, max_price: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if name:
        pattern = bindparam("name_pattern", type_=String)
        conditions.append(func.lower(Product.name).contains(pattern, escape=_LIKE_ESCAPE))
    if min_price:
        conditions.append(Product.price >= bindparam("min_price"))
    if max_price:
        conditions.append(Product.price <= bindparam("max_price"))
    return conditions


class _PageShape(NamedTuple):
    """What a page's prebuilt statement depends on: which filters are given, whether it counts, whether a cursor."""

    name: bool
    min_price: bool
    max_price: bool
    total: bool
    after: bool


def _page_statement(shape: _PageShape) -> Select[Any]:
    """A page in id order, `limit` rows (the page's size + 1: see Keyset.split) after `offset` rows or after the
    cursor's id, with the number of matching products when it counts: one statement (one round-trip, one snapshot).

    The total is an uncorrelated scalar subquery, which PostgreSQL and SQLite evaluate once per statement (an
    index-only count). `count(*) OVER ()` would do it too, but makes the database fetch and window every matching
    row before the LIMIT: three times slower on 10,000 rows. A page past the end has no row to carry the total:
    the caller counts then, with `count`. The count reads every matching row, so on a large catalogue it costs far
    more than the page: `include_total=false` leaves it out.
    """
    conditions = _conditions(shape.name, shape.min_price, shape.max_price)
    columns: list[Any] = list(_READ_COLUMNS)
    if shape.total:
        columns.append(_count_statement(conditions).scalar_subquery().label("total"))
    if shape.after:
        conditions = [*conditions, Product.id > bindparam("after_id", type_=Integer)]
    return (
        select(*columns)
        .where(*conditions)
        .order_by(Product.id)
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
    )


def _count_statement(conditions: Sequence[ColumnElement[bool]]) -> Select[int]:
    return select(func.count()).select_from(Product).where(*conditions)


_PAGES = MappingProxyType(
    {_PageShape(*shape): _page_statement(_PageShape(*shape)) for shape in product((False, True), repeat=5)}
)
_COUNTS = MappingProxyType({shape: _count_statement(_conditions(*shape)) for shape in product((False, True), repeat=3)})


async def read(reader: Reader, product_id: ProductID) -> Row[Any] | None:
    """The product's row (the columns of `ProductRead`), or None."""
    return await reader.first(_BY_ID, {"product_id": product_id})


async def read_page(
    reader: Reader, *, query: ProductQuery, params: PageParams
) -> tuple[Sequence[Row[Any]], int | None]:
    """The page's rows in id order, one more than the page (see Keyset.split), by number or after a cursor, and
    the number of matching products (None when not asked for, or past the last page)."""
    position = BY_ID.position(params)
    shape = _PageShape(*query.shape(), total=params.include_total, after=position is not None)
    parameters = {**query.parameters(), "offset": 0 if position else params.offset, "limit": params.size + 1}
    if position is not None:
        parameters["after_id"] = position[0]
    rows = await reader.all(_PAGES[shape], parameters)
    return rows, (rows[0].total if rows and params.include_total else None)


async def count(reader: Reader, *, query: ProductQuery) -> int:
    row = await reader.first(_COUNTS[query.shape()], query.parameters())
    return 0 if row is None else int(row[0])


async def get(session: AsyncSession, product_id: ProductID) -> Product | None:
    """The product as an entity of the session, to change or delete in its transaction."""
    return await session.get(Product, product_id)


async def add(session: AsyncSession, product: Product) -> Product:
    session.add(product)
    await session.flush()
    return product


async def delete(session: AsyncSession, product: Product) -> bool:
    """Delete the product; False (and nothing deleted) when rows elsewhere still refer to it."""
    try:
        async with session.begin_nested():
            await session.delete(product)
    except IntegrityError:
        return False
    return True


async def read_sorted(
    reader: Reader, *, query: ProductQuery, order: Sequence[tuple[str, bool]], params: PageParams
) -> Sequence[Row[Any]]:
    """A page by number, ordered by `order`'s (column among SORTABLE, descending) pairs, then by id, so that pages
    never overlap. By offset only: a cursor cannot carry a price (a Decimal), and the console pages by number. Built
    per call (the orders vary), with the filters' parameters as the prebuilt pages take them."""
    columns = [SORTABLE[name].desc() if descending else SORTABLE[name].asc() for name, descending in order]
    statement = (
        select(*_READ_COLUMNS)
        .where(*_conditions(*query.shape()))
        .order_by(*columns, Product.id.asc())
        .offset(params.offset)
        .limit(params.size)
    )
    return await reader.all(statement, query.parameters())


async def reserve(session: AsyncSession, *, product_id: ProductID, quantity: int) -> Reservation | None:
    """Take `quantity` units out of stock if, and only if, that many are there; None when they are not.

    The check and the decrement are one statement: PostgreSQL row-locks the product for the rest of the
    transaction, and SQLite runs it under the write lock that `BEGIN IMMEDIATE` took.
    """
    statement = (
        update(Product)
        .where(Product.id == product_id, Product.quantity >= quantity)
        .values(quantity=Product.quantity - quantity, updated_at=utcnow())
        .returning(Product.id, Product.name, Product.price)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else Reservation(row.id, row.name, row.price)


async def restock(session: AsyncSession, *, product_id: ProductID, quantity: int) -> bool:
    """Add `quantity` units to the stock in one statement (no lost update); False when there is no such product."""
    statement = (
        update(Product)
        .where(Product.id == product_id)
        .values(quantity=Product.quantity + quantity, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(await session.execute(statement), "rowcount", 0)) > 0
