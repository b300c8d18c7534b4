"""SQL for endpoint specs, their documents and the registry's version row."""

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Keyset, PageParams
from app.features.dynamic_endpoints.models import EndpointDocument, EndpointRegistry, EndpointSpec, SpecID

__all__ = [
    "REGISTRY_ROW",
    "add",
    "bump_version",
    "count_documents",
    "count_specs",
    "current_version",
    "documents_page",
    "get_by_name",
    "get_document",
    "get_spec",
    "iter_documents",
    "list_specs",
    "specs_page",
]

REGISTRY_ROW = 1


async def current_version(session: AsyncSession) -> int:
    """The registry's version: one primary-key read, cheap enough to poll."""
    version = await session.scalar(select(EndpointRegistry.version).where(EndpointRegistry.id == REGISTRY_ROW))
    return version or 0


async def bump_version(session: AsyncSession) -> int:
    """Increment the version and return it. On PostgreSQL the row stays locked until commit, so spec writers
    queue behind each other and their conflict checks cannot interleave (SQLite's BEGIN IMMEDIATE does the same)."""
    statement = (
        update(EndpointRegistry)
        .where(EndpointRegistry.id == REGISTRY_ROW)
        .values(version=EndpointRegistry.version + 1)
        .returning(EndpointRegistry.version)
    )
    version = (await session.execute(statement)).scalar_one_or_none()
    if version is None:  # the row was deleted by hand (or by a test's cleanup): start again
        session.add(EndpointRegistry(id=REGISTRY_ROW, version=1))
        await session.flush()
        return 1
    return version


async def list_specs(session: AsyncSession) -> Sequence[EndpointSpec]:
    return (await session.execute(select(EndpointSpec).order_by(EndpointSpec.name))).scalars().all()


# The specs' listing's order (the primary key's index).
SPECS_BY_ID = Keyset(EndpointSpec.id)
# A collection's documents, oldest first: the index on (spec_id, id).
DOCUMENTS_BY_ID = Keyset(EndpointDocument.id)


async def specs_page(session: AsyncSession, *, params: PageParams) -> Sequence[EndpointSpec]:
    statement = SPECS_BY_ID.page(select(EndpointSpec), params)
    return (await session.execute(statement)).scalars().all()


async def count_specs(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(EndpointSpec))).scalar_one()


async def get_spec(session: AsyncSession, spec_id: SpecID) -> EndpointSpec | None:
    return await session.get(EndpointSpec, spec_id)


async def get_by_name(session: AsyncSession, name: str) -> EndpointSpec | None:
    return await session.scalar(select(EndpointSpec).where(EndpointSpec.name == name))


async def add[T: EndpointSpec | EndpointDocument](session: AsyncSession, row: T) -> T:
    session.add(row)
    await session.flush()
    return row


async def get_document(session: AsyncSession, *, spec_id: SpecID, document_id: int) -> EndpointDocument | None:
    statement = select(EndpointDocument).where(EndpointDocument.id == document_id, EndpointDocument.spec_id == spec_id)
    return await session.scalar(statement)


async def documents_page(session: AsyncSession, *, spec_id: SpecID, params: PageParams) -> Sequence[EndpointDocument]:
    statement = DOCUMENTS_BY_ID.page(select(EndpointDocument).where(EndpointDocument.spec_id == spec_id), params)
    return (await session.execute(statement)).scalars().all()


async def count_documents(session: AsyncSession, *, spec_id: SpecID) -> int:
    statement = select(func.count()).select_from(EndpointDocument).where(EndpointDocument.spec_id == spec_id)
    return (await session.execute(statement)).scalar_one()


async def iter_documents(session: AsyncSession, *, spec_id: SpecID, batch: int = 500) -> AsyncIterator[tuple[int, Any]]:
    """Every document of a spec as (id, data), streamed, for re-validation when its schemas change."""
    statement = select(EndpointDocument.id, EndpointDocument.data).where(EndpointDocument.spec_id == spec_id)
    result = await session.stream(statement.execution_options(yield_per=batch))
    async for row in result:
        yield row.id, row.data
