"""Counters: a small resource of the tests' own, for the infrastructure tests that need a feature to drive.

A project made from ForgeAPI may have no example features (copier's `example_features` question), so the tests of
idempotency, connection pools, read round-trips, business spans and API keys drive this instead of products and
orders. It has what they need and nothing more: public, edge-cached reads (one counter, read as a read-only
endpoint reads, through `Reads`; or a page of them with the total in the same statement, through `DBSession`); an
administrator's create and update; an increment that takes an Idempotency-Key, makes a business span and refuses
to pass the counter's ceiling (a 409 that changes nothing); and a read that names its caller, for a bearer token or
an API key with the `api:read` scope (increments take `api:write`).

The table is on a MetaData of its own, outside the migrations and `app.models`: tests/conftest.py creates it beside
the migrated schema, and its `counters` fixture mounts the routes on the test's app.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.responses import Response

from app.config import API_PREFIX
from app.core.context import Context
from app.core.database import DBSession, Reads
from app.core.exceptions import ConflictError, found
from app.core.identifiers import ResourceID
from app.core.pagination import Page, Pagination
from app.features.api_keys.models import Scope
from app.features.auth.dependencies import AdminUser, Authorized, Principal
from app.shared.caching import edge_cached
from app.shared.idempotency import IDEMPOTENCY_RESPONSES, Idempotency
from app.shared.routing import ForgeRoute

__all__ = ["PATH", "CounterRead", "IncrementRead", "create_table", "metadata", "mount"]

PATH = f"{API_PREFIX}/test-counters"
SPAN = "counters.increment"

metadata = MetaData()
counter = Table(
    "test_counter",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("value", Integer, nullable=False),
    Column("ceiling", Integer, nullable=False),
)

ApiReader = Annotated[Principal, Depends(Authorized(Scope.API_READ))]
Writer = Annotated[Principal, Depends(Authorized(Scope.API_WRITE))]
_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)


class CounterCreate(BaseModel):
    model_config = _STRICT

    name: Annotated[str, Field(min_length=1, max_length=100)]
    ceiling: Annotated[int, Field(ge=0, le=10**9)] = 100


class CounterUpdate(BaseModel):
    model_config = _STRICT

    ceiling: Annotated[int, Field(ge=0, le=10**9)]


class CounterRead(BaseModel):
    id: int
    name: str
    value: int
    ceiling: int


class IncrementCreate(BaseModel):
    model_config = _STRICT

    by: Annotated[int, Field(ge=1, le=1000)] = 1
    note: Annotated[str | None, Field(max_length=100)] = None  # a second member, for the key order of the JSON


class IncrementRead(BaseModel):
    counter_id: int
    by: int
    value: int = Field(description="The counter's value after this increment: one per increment made.")
    user_id: int


class Caller(BaseModel):
    user_id: int
    api_key_id: int | None


_BY_ID = select(counter).where(counter.c.id == bindparam("counter_id"))  # built once, as read-only endpoints do
_INCREMENT_ERRORS = {
    **IDEMPOTENCY_RESPONSES,
    409: {"description": "Past the ceiling, or a request with the same Idempotency-Key still in progress."},
}

router = APIRouter(prefix="/test-counters", tags=["test-counters"], route_class=ForgeRoute)


async def _get(session: AsyncSession, counter_id: int) -> CounterRead:
    row = (await session.execute(select(counter).where(counter.c.id == counter_id))).one_or_none()
    return CounterRead.model_validate(found(row, f"Counter {counter_id} does not exist.")._mapping)


@router.get("/caller")
async def get_caller(caller: ApiReader) -> Caller:
    return Caller(user_id=caller.user.id, api_key_id=caller.api_key_id)


@router.get("")
@edge_cached()
async def list_counters(session: DBSession, pagination: Pagination) -> Page[CounterRead]:
    total = func.count().over().label("total")
    statement = select(counter, total).order_by(counter.c.id).offset(pagination.offset).limit(pagination.size)
    rows = (await session.execute(statement)).all()
    items = [CounterRead.model_validate(row._mapping) for row in rows]
    return Page[CounterRead].build(items, total=rows[0].total if rows else 0, params=pagination)


@router.get("/{counter_id}")
@edge_cached()
async def get_counter(counter_id: ResourceID, reads: Reads) -> CounterRead:
    row = await reads.first(_BY_ID, {"counter_id": counter_id})
    return CounterRead.model_validate(found(row, f"Counter {counter_id} does not exist.")._mapping)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_counter(data: CounterCreate, session: DBSession, _admin: AdminUser) -> CounterRead:
    statement = insert(counter).values(name=data.name, value=0, ceiling=data.ceiling).returning(counter.c.id)
    counter_id = (await session.execute(statement)).scalar_one()
    return await _get(session, counter_id)


@router.patch("/{counter_id}")
async def update_counter(
    counter_id: ResourceID, data: CounterUpdate, session: DBSession, _admin: AdminUser
) -> CounterRead:
    await session.execute(update(counter).where(counter.c.id == counter_id).values(ceiling=data.ceiling))
    return await _get(session, counter_id)


@router.post(
    "/{counter_id}/increments",
    status_code=status.HTTP_201_CREATED,
    response_model=IncrementRead,
    responses=_INCREMENT_ERRORS,
)
async def increment(
    counter_id: ResourceID,
    data: IncrementCreate,
    *,
    idempotency: Idempotency,
    session: DBSession,
    caller: Writer,
    context: Context,
) -> Response:  # `idempotency` before `session`, as app.shared.idempotency asks
    with context.tracing.span(SPAN, {"counter.id": counter_id, "counter.by": data.by}) as span:
        statement = (
            update(counter)
            .where(counter.c.id == counter_id, counter.c.value + data.by <= counter.c.ceiling)
            .values(value=counter.c.value + data.by)
            .returning(counter.c.value)
        )
        value = (await session.execute(statement)).scalar_one_or_none()
        if value is None:
            await _get(session, counter_id)  # a 404 when there is no such counter
            msg = f"Counter {counter_id} would pass its ceiling."
            raise ConflictError(msg)
        if span is not None:
            span.set_attribute("counter.value", value)
    made = IncrementRead(counter_id=counter_id, by=data.by, value=value, user_id=caller.user.id)
    return await idempotency.respond(session, made, status_code=status.HTTP_201_CREATED)


async def create_table(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)


def mount(app: FastAPI) -> None:
    """The routes on `app`, beside its own; add them before its OpenAPI document is first built."""
    app.include_router(router, prefix=API_PREFIX)
