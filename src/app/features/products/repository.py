"""SQL for products; the stock reservation is one conditional UPDATE, so concurrent orders cannot oversell."""

from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.pagination import Keyset, PageParams
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
    "list_page",
    "list_sorted",
    "reserve",
    "restock",
]


# The listing's order; the primary key's index serves it, a cursor page starting at its position at any depth.
BY_ID = Keyset(Product.id)

# The columns the admin console's listing may be sorted by.
SORTABLE = {"id": Product.id, "name": Product.name, "price": Product.price, "quantity": Product.quantity}


class ProductQuery(NamedTuple):
    name_contains: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.name_contains:
            pattern = self.name_contains.lower()
            conditions.append(func.lower(Product.name).contains(pattern, autoescape=True))
        if self.min_price is not None:
            conditions.append(Product.price >= self.min_price)
        if self.max_price is not None:
            conditions.append(Product.price <= self.max_price)
        return conditions


async def get(session: AsyncSession, product_id: ProductID) -> Product | None:
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


async def list_page(
    session: AsyncSession, *, query: ProductQuery, params: PageParams
) -> tuple[Sequence[Product], int | None]:
    """A page (one product more, see Keyset) and, unless the page asks not to, the number of matching products, in
    one statement (one round-trip, one snapshot).

    The total is an uncorrelated scalar subquery, which PostgreSQL and SQLite evaluate once per statement (an
    index-only count). `count(*) OVER ()` would do it too, but makes the database fetch and window every matching
    row before the LIMIT: three times slower on 10,000 rows. A page past the end has no row to carry the total:
    None then, and the caller counts. The count reads every matching row, so on a large catalogue it costs far more
    than the page: `include_total=false` leaves it out.
    """
    conditions = query.conditions()
    if not params.include_total:
        statement = BY_ID.page(select(Product).where(*conditions), params)
        return (await session.execute(statement)).scalars().all(), None
    total = select(func.count()).select_from(Product).where(*conditions).scalar_subquery().label("total")
    rows = (await session.execute(BY_ID.page(select(Product, total).where(*conditions), params))).all()
    return [row[0] for row in rows], (rows[0][1] if rows else None)


async def list_sorted(
    session: AsyncSession, *, query: ProductQuery, order: Sequence[tuple[str, bool]], params: PageParams
) -> Sequence[Product]:
    """A page by number, ordered by `order`'s (column among SORTABLE, descending) pairs, then by id, so that pages
    never overlap. By offset only: a cursor cannot carry a price (a Decimal), and the console pages by number."""
    columns = [SORTABLE[name].desc() if descending else SORTABLE[name].asc() for name, descending in order]
    statement = select(Product).where(*query.conditions()).order_by(*columns, Product.id.asc())
    statement = statement.offset(params.offset).limit(params.size)
    return (await session.execute(statement)).scalars().all()


async def count(session: AsyncSession, *, query: ProductQuery) -> int:
    statement = select(func.count()).select_from(Product).where(*query.conditions())
    return (await session.execute(statement)).scalar_one()


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
