"""Products: the catalogue that admins manage and anyone may read, and the stock that orders reserve."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.exceptions import ConflictError, NotFoundError
from app.core.pagination import Page, PageParams
from app.features.products import repository
from app.features.products.models import Product, ProductID
from app.features.products.repository import Reservation
from app.features.products.schemas import ProductCreate, ProductFilters, ProductRead, ProductUpdate

__all__ = [
    "Reservation",
    "StockShortageError",
    "create_product",
    "delete_product",
    "get_product",
    "list_products",
    "reserve_stock",
    "update_product",
]


async def get_product(session: AsyncSession, *, product_id: ProductID) -> Product:
    product = await repository.get(session, product_id)
    if product is None:
        msg = f"Product {product_id} does not exist."
        raise NotFoundError(msg)
    return product


async def list_products(session: AsyncSession, *, params: PageParams, filters: ProductFilters) -> Page[ProductRead]:
    """A page of products matching the filters, in a stable order (by id)."""
    query = repository.ProductQuery(name_contains=filters.q, min_price=filters.min_price, max_price=filters.max_price)
    products, total = await repository.list_page(session, query=query, offset=params.offset, limit=params.size)
    if total is None:  # past the last page (or nothing matches): only then a second statement
        total = await repository.count(session, query=query)
    return Page[ProductRead].build([ProductRead.model_validate(p) for p in products], total=total, params=params)


async def create_product(session: AsyncSession, *, data: ProductCreate) -> Product:
    return await repository.add(session, Product(name=data.name, price=data.price, quantity=data.quantity))


async def update_product(session: AsyncSession, *, product_id: ProductID, changes: ProductUpdate) -> Product:
    product = await get_product(session, product_id=product_id)
    for field in changes.model_fields_set:
        setattr(product, field, getattr(changes, field))
    await session.flush()
    return product


async def delete_product(session: AsyncSession, *, product_id: ProductID) -> None:
    """Delete a product that no order refers to; orders keep their history, so those products stay (409)."""
    product = await get_product(session, product_id=product_id)
    if not await repository.delete(session, product):
        msg = f"Product {product_id} appears in orders and cannot be deleted; set its quantity to 0 instead."
        raise ConflictError(msg)


class StockShortageError(Exception):
    """Not enough units of a product (or no such product: `exists` tells which)."""

    def __init__(self, product_id: ProductID, *, exists: bool, available: int) -> None:
        super().__init__(product_id)
        self.product_id = product_id
        self.exists = exists
        self.available = available


async def reserve_stock(session: AsyncSession, *, product_id: ProductID, quantity: int) -> Reservation:
    """Atomically take `quantity` units out of stock, or raise `StockShortageError` and take nothing."""
    reservation = await repository.reserve(session, product_id=product_id, quantity=quantity)
    if reservation is None:
        product = await repository.get(session, product_id)
        raise StockShortageError(product_id, exists=product is not None, available=product.quantity if product else 0)
    return reservation
