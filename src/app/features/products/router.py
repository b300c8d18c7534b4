from typing import Annotated

from fastapi import APIRouter, Depends, status

from app.core.audit import Audit
from app.core.context import Context
from app.core.database import DBSession, Reads
from app.core.identifiers import ResourceID
from app.core.pagination import Page, Pagination
from app.core.query_models import QueryModel
from app.features.api_keys.models import Scope
from app.features.auth.dependencies import Authorized, Principal
from app.features.products import service
from app.features.products.models import Product
from app.features.products.schemas import ProductCreate, ProductFilters, ProductRead, ProductUpdate
from app.shared.caching import edge_cached
from app.shared.routing import ForgeRoute

__all__ = ["router"]

Filters = Annotated[ProductFilters, Depends(QueryModel(ProductFilters))]

# An administrator's token, or a key of an administrator's carrying `products:write`.
ProductsWriter = Annotated[Principal, Depends(Authorized(Scope.PRODUCTS_WRITE, admin=True))]

router = APIRouter(prefix="/products", tags=["products"], route_class=ForgeRoute)


@router.get("")
@edge_cached(namespace=service.CACHE_NAMESPACE)
async def list_products(reads: Reads, filters: Filters, pagination: Pagination) -> Page[ProductRead]:
    return await service.list_products(reads, params=pagination, filters=filters)


@router.get("/{product_id}")
@edge_cached(namespace=service.CACHE_NAMESPACE)
async def get_product(product_id: ResourceID, reads: Reads) -> ProductRead:
    return await service.get_product(reads, product_id=product_id)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProductRead)
async def create_product(data: ProductCreate, session: DBSession, writer: ProductsWriter, context: Context) -> Product:
    audit = Audit(context.audit, writer.actor)
    return await service.create_product(session, data=data, events=context.events, audit=audit)


@router.patch("/{product_id}", response_model=ProductRead)
async def update_product(
    product_id: ResourceID, changes: ProductUpdate, session: DBSession, writer: ProductsWriter, context: Context
) -> Product:
    audit = Audit(context.audit, writer.actor)
    return await service.update_product(
        session, product_id=product_id, changes=changes, events=context.events, audit=audit
    )


@router.delete(
    "/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "Orders refer to the product; set its quantity to 0 instead."}},
)
async def delete_product(product_id: ResourceID, session: DBSession, writer: ProductsWriter, context: Context) -> None:
    audit = Audit(context.audit, writer.actor)
    await service.delete_product(session, product_id=product_id, events=context.events, audit=audit)
