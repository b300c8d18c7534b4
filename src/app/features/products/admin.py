"""The products' pages in the admin console: the catalogue listed, searched and sorted; products created, edited and
deleted through this feature's service, with its validation (exact money, stock bounds), events and audit entries."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette_admin import DateTimeField, IntegerField, StringField
from starlette_admin.filters import FilterGroup

from app.core.audit import Audit
from app.core.context import context_of
from app.core.exceptions import NotFoundError
from app.features.products import service
from app.features.products.models import Product
from app.features.products.schemas import ProductCreate, ProductFilters, ProductRead, ProductUpdate
from app.shared.console import ConsoleSection, ServiceView, integer_pk, page_of

__all__ = ["section"]

_EDITABLE = ("name", "price", "quantity")


def _input(data: dict[str, Any]) -> dict[str, Any]:
    """The form's values as the API's body would carry them: the price as the text typed (Money takes a decimal
    string and refuses a third decimal place, as it does in JSON)."""
    return {name: data[name] for name in _EDITABLE if data.get(name) is not None}


class ProductsView(ServiceView):
    key = "products"
    menu_label = "Products"
    display_name = "Product"
    icon = "fa fa-box"
    pk_attr = "id"
    fields = (
        IntegerField("id", label="ID", exclude_from_create=True, exclude_from_edit=True),
        StringField("name", required=True, maxlength=200),
        StringField("price", required=True, help_text="In the shop's currency, at most two decimal places."),
        IntegerField("quantity", label="In stock", required=True, min=0),
        DateTimeField("created_at", exclude_from_create=True, exclude_from_edit=True),
        DateTimeField("updated_at", exclude_from_create=True, exclude_from_edit=True, exclude_from_list=True),
    )
    searchable_fields = ("name",)
    sortable_fields = tuple(sorted(service.SORTABLE))
    fields_default_sort = ("id",)

    async def repr(self, obj: Any, request: Request) -> str:
        return str(obj.name)

    async def find_all(
        self,
        request: Request,
        skip: int = 0,
        limit: int = 100,
        q: str | None = None,
        sorts: Sequence[tuple[str, str]] | None = None,
        filters: FilterGroup | None = None,
    ) -> Sequence[ProductRead]:
        order = [(name, direction == "desc") for name, direction in sorts or ()]
        reader = context_of(request).database.reader
        page = await service.browse_products(
            reader, params=page_of(skip, limit), filters=ProductFilters(q=q or None), order=order
        )
        return page.items

    async def count(self, request: Request, q: str | None = None, filters: FilterGroup | None = None) -> int:
        reader = context_of(request).database.reader
        return await service.count_products(reader, filters=ProductFilters(q=q or None))

    async def find_by_pk(self, request: Request, pk: Any) -> ProductRead | None:
        product_id = integer_pk(pk)
        if product_id is None:
            return None
        try:
            return await service.get_product(context_of(request).database.reader, product_id=product_id)
        except NotFoundError:
            return None

    async def create(self, request: Request, data: dict[str, Any]) -> Product:
        events = context_of(request).events
        return await self.save(
            request,
            "create",
            None,
            lambda session, audit: service.create_product(
                session, data=ProductCreate.model_validate(_input(data)), events=events, audit=audit
            ),
        )

    async def edit(self, request: Request, pk: Any, data: dict[str, Any]) -> Product:
        product_id = integer_pk(pk)
        events = context_of(request).events

        async def update(session: AsyncSession, audit: Audit) -> Product:
            current = await service.product_to_change(session, product_id=product_id or 0)
            typed = ProductUpdate.model_validate(_input(data))  # every field, validated as the API would
            # Only what the form changed, so that the product.updated event names the fields an API edit would (an
            # unchanged form is an empty PATCH: an event and an audit entry that change nothing, as through the API).
            changed = {
                name: getattr(typed, name)
                for name in typed.model_fields_set
                if getattr(typed, name) != getattr(current, name)
            }
            changes = ProductUpdate.model_validate(changed)
            return await service.update_product(
                session, product_id=current.id, changes=changes, events=events, audit=audit
            )

        return await self.save(request, "update", str(pk), update)

    async def delete(self, request: Request, pks: list[Any]) -> int:
        events = context_of(request).events
        for pk in pks:
            product_id = integer_pk(pk) or 0

            async def delete(session: AsyncSession, audit: Audit, product_id: int = product_id) -> None:
                await service.delete_product(session, product_id=product_id, events=events, audit=audit)

            await self.act(request, "delete", str(pk), delete)
        return len(pks)


section = ConsoleSection(views=(ProductsView,))
