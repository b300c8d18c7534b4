"""Products: the catalogue that admins manage and anyone may read, and the stock that orders reserve."""

from collections.abc import Mapping, Sequence
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import Audit, snapshot
from app.core.events import Events
from app.core.exceptions import ConflictError, NotFoundError, ProblemField, found
from app.core.pagination import Page, PageParams
from app.core.reads import Reader
from app.core.response_cache import mark_changed
from app.features.products import repository
from app.features.products.models import Product, ProductID
from app.features.products.schemas import ProductCreate, ProductFilters, ProductRead, ProductUpdate, Reservation

__all__ = [
    "CACHE_NAMESPACE",
    "SORTABLE",
    "InsufficientStockError",
    "UnknownProductError",
    "browse_products",
    "count_products",
    "create_product",
    "delete_product",
    "get_product",
    "list_products",
    "product_to_change",
    "reserve_stock",
    "restore_stock",
    "update_product",
]

# The response cache's namespace of product reads: every write that changes what they show marks it changed, in
# its transaction (stock reserved by orders included: a product shows its quantity).
CACHE_NAMESPACE = "products"

# The columns a listing may be ordered by.
SORTABLE = frozenset(repository.SORTABLE)


def _missing(product_id: ProductID) -> str:
    return f"Product {product_id} does not exist."


async def get_product(reader: Reader, *, product_id: ProductID) -> ProductRead:
    """The product, read in one statement and validated straight from its row."""
    return ProductRead.model_validate(found(await repository.read(reader, product_id), _missing(product_id)))


async def list_products(reader: Reader, *, params: PageParams, filters: ProductFilters) -> Page[ProductRead]:
    """A page of products matching the filters, in a stable order (by id), by number or after a cursor."""
    query = _query(filters)
    rows, total = await repository.read_page(reader, query=query, params=params)
    if total is None and params.include_total:  # past the last page (or nothing matches): only then a second statement
        total = await repository.count(reader, query=query)
    shown, next_cursor = repository.BY_ID.split(rows, params)
    items = [ProductRead.model_validate(row) for row in shown]
    return Page[ProductRead].build(items, total=total, params=params, next_cursor=next_cursor)


async def browse_products(
    reader: Reader, *, params: PageParams, filters: ProductFilters, order: Sequence[tuple[str, bool]] = ()
) -> Page[ProductRead]:
    """A page (by number) of products matching the filters, ordered by `order`'s (column, descending) pairs, columns
    among SORTABLE (others are ignored), then by id: the admin console's sortable listing."""
    order = [(name, descending) for name, descending in order if name in SORTABLE]
    query = _query(filters)
    rows = await repository.read_sorted(reader, query=query, order=order, params=params)
    total = await repository.count(reader, query=query) if params.include_total else None
    return Page[ProductRead].build([ProductRead.model_validate(row) for row in rows], total=total, params=params)


async def count_products(reader: Reader, *, filters: ProductFilters) -> int:
    """How many products match the filters."""
    return await repository.count(reader, query=_query(filters))


def _query(filters: ProductFilters) -> repository.ProductQuery:
    return repository.ProductQuery(name_contains=filters.q, min_price=filters.min_price, max_price=filters.max_price)


async def product_to_change(session: AsyncSession, *, product_id: ProductID) -> Product:
    """The product as an entity of `session`, to change or delete in its transaction (404 when there is none)."""
    return found(await repository.get(session, product_id), _missing(product_id))


_AUDITED = ("name", "price", "quantity")


def _event_data(product: Product) -> dict[str, object]:
    return {"id": product.id, "name": product.name, "price": str(product.price), "quantity": product.quantity}


async def create_product(session: AsyncSession, *, data: ProductCreate, events: Events, audit: Audit) -> Product:
    """Add the product, and its `product.created` event and audit entry in the same transaction."""
    product = await repository.add(session, Product(name=data.name, price=data.price, quantity=data.quantity))
    mark_changed(session, CACHE_NAMESPACE)
    await events.record(session, "product.created", _event_data(product))
    after = snapshot(product, _AUDITED)
    await audit.record(session, action="product.create", target_type="product", target_id=product.id, after=after)
    return product


async def update_product(
    session: AsyncSession, *, product_id: ProductID, changes: ProductUpdate, events: Events, audit: Audit
) -> Product:
    """Apply the changes, and record `product.updated` (the product as it now is, and which fields changed) and the
    audit entry (the fields' values before and after)."""
    product = await product_to_change(session, product_id=product_id)
    before = snapshot(product, _AUDITED)
    for field in changes.model_fields_set:
        setattr(product, field, getattr(changes, field))
    await session.flush()
    mark_changed(session, CACHE_NAMESPACE)
    await events.record(
        session, "product.updated", {**_event_data(product), "changed": sorted(changes.model_fields_set)}
    )
    await audit.record(
        session,
        action="product.update",
        target_type="product",
        target_id=product.id,
        before=before,
        after=snapshot(product, _AUDITED),
    )
    return product


async def delete_product(session: AsyncSession, *, product_id: ProductID, events: Events, audit: Audit) -> None:
    """Delete a product that no order refers to; orders keep their history, so those products stay (409)."""
    product = await product_to_change(session, product_id=product_id)
    before = snapshot(product, _AUDITED)
    if not await repository.delete(session, product):
        msg = f"Product {product_id} appears in orders and cannot be deleted; set its quantity to 0 instead."
        raise ConflictError(msg)
    mark_changed(session, CACHE_NAMESPACE)
    await events.record(session, "product.deleted", {"id": product_id})
    await audit.record(session, action="product.delete", target_type="product", target_id=product_id, before=before)


class InsufficientStockError(ConflictError):
    """Fewer units of a product in stock than an order asks for: answered as is, with the three numbers."""

    slug = "insufficient-stock"
    title = "Insufficient Stock"
    problem_fields: ClassVar[Mapping[str, ProblemField]] = {
        "product_id": ProblemField(int, "409 insufficient-stock: the product short of stock."),
        "requested": ProblemField(int, "409 insufficient-stock: the quantity ordered."),
        "available": ProblemField(int, "409 insufficient-stock: the quantity in stock."),
    }

    def __init__(self, product_id: ProductID, *, requested: int, available: int) -> None:
        msg = f"Product {product_id} has {available} unit(s) in stock; the order asks for {requested}."
        super().__init__(msg, product_id=product_id, requested=requested, available=available)


class UnknownProductError(NotFoundError):
    """No such product: the caller says where it was named (an order answers 422 with a pointer to the item)."""

    def __init__(self, product_id: ProductID) -> None:
        super().__init__(f"Product {product_id} does not exist.")
        self.product_id = product_id


async def reserve_stock(session: AsyncSession, *, product_id: ProductID, quantity: int) -> Reservation:
    """Atomically take `quantity` units out of stock, or take nothing and raise `InsufficientStockError` (409), or
    `UnknownProductError` when there is no such product."""
    reservation = await repository.reserve(session, product_id=product_id, quantity=quantity)
    if reservation is None:
        product = await repository.get(session, product_id)
        if product is None:
            raise UnknownProductError(product_id)
        raise InsufficientStockError(product_id, requested=quantity, available=product.quantity)
    mark_changed(session, CACHE_NAMESPACE)
    return reservation


async def restore_stock(session: AsyncSession, *, product_id: ProductID, quantity: int) -> None:
    """Put `quantity` units back into stock (a cancelled order's), in the caller's transaction."""
    if not await repository.restock(session, product_id=product_id, quantity=quantity):
        raise UnknownProductError(product_id)
    mark_changed(session, CACHE_NAMESPACE)
