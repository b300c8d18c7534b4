"""The product reads a developer would write by hand with SQLAlchemy Core, at ForgeAPI's own paths.

The harness's baseline for its database scenarios (a product read, the first page, a page deep): the same table,
the same request and the same JSON fields as ForgeAPI's answer, written the plain way: a connection from the pool
per request, one `select` for a read, a `select ... LIMIT/OFFSET` and a `count(*)` for a page, a Pydantic response
model. No middleware, no limiter, no metrics, no ETag. The peer stand-in (`_peer_cached.py`) reuses these
statements for the misses that fill its cache.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.features.products.models import Product

__all__ = ["PageOut", "ProductOut", "add_routes", "read_page", "read_product"]

_COLUMNS = (Product.id, Product.name, Product.price, Product.quantity, Product.created_at, Product.updated_at)


class ProductOut(BaseModel):
    id: int
    name: str
    price: Decimal  # Pydantic writes a Decimal as a JSON string ("9.99"), as ForgeAPI does
    quantity: int
    created_at: datetime
    updated_at: datetime


class PageOut(BaseModel):
    items: list[ProductOut]
    total: int
    page: int
    size: int
    pages: int


def _product(row: Row[int, str, Decimal, int, datetime, datetime]) -> ProductOut:
    return ProductOut(
        id=row.id,
        name=row.name,
        price=row.price,
        quantity=row.quantity,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def read_product(connection: AsyncConnection, product_id: int) -> ProductOut | None:
    row = (await connection.execute(select(*_COLUMNS).where(Product.id == product_id))).one_or_none()
    return None if row is None else _product(row)


async def read_page(connection: AsyncConnection, page: int, size: int) -> PageOut:
    statement = select(*_COLUMNS).order_by(Product.id).offset((page - 1) * size).limit(size)
    rows = (await connection.execute(statement)).all()
    total: int = (await connection.execute(select(func.count()).select_from(Product))).scalar_one()
    return PageOut(items=[_product(row) for row in rows], total=total, page=page, size=size, pages=-(-total // size))


def add_routes(app: FastAPI, engine: AsyncEngine) -> None:
    """ForgeAPI's product read and product page, at the same paths, answered with plain Core."""

    @app.get("/api/v1/products/{product_id}")
    async def get_product(product_id: int) -> ProductOut:
        async with engine.connect() as connection:
            product = await read_product(connection, product_id)
        if product is None:
            raise HTTPException(status_code=404, detail="product not found")
        return product

    @app.get("/api/v1/products")
    async def list_products(
        page: Annotated[int, Query(ge=1)] = 1, size: Annotated[int, Query(ge=1, le=100)] = 20
    ) -> PageOut:
        async with engine.connect() as connection:
            return await read_page(connection, page, size)
