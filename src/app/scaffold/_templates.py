"""The files of a new feature slice, as `string.Template`s (`$feature`, `$Model`...; `$$` is a literal dollar).

The generated code must pass ruff, ruff format, mypy --strict and import-linter as written: the scaffolding test
runs all of them on a generated slice.
"""

from string import Template

__all__ = ["FILES", "MIGRATION", "TESTS"]

INIT = Template('''\
"""$Title: $singular records.

Administrators manage them; anyone may read them.
"""
''')

MODELS = Template("""\
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, TimestampMixin

__all__ = ["$Model", "${Model}ID"]

type ${Model}ID = int


class $Model(TimestampMixin, Base):
    __tablename__ = "$table"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
""")

SCHEMAS = Template("""\
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from app.core.input import InputModel

__all__ = ["${Model}Create", "${Model}Read", "${Model}Update"]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ${Model}Create(InputModel):
    name: Name


class ${Model}Update(InputModel):
    name: Name | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            msg = "give at least one field to change"
            raise ValueError(msg)
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                msg = f"{field} cannot be null"
                raise ValueError(msg)
        return self


class ${Model}Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    updated_at: datetime
""")

REPOSITORY = Template('''\
"""SQL for $feature."""

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Keyset, PageParams
from app.features.$feature.models import $Model, ${Model}ID

__all__ = ["BY_ID", "add", "count", "delete", "get", "list_page"]

# The listing's order: the primary key's index serves a cursor page at any depth.
BY_ID = Keyset($Model.id)


async def get(session: AsyncSession, ${singular}_id: ${Model}ID) -> $Model | None:
    return await session.get($Model, ${singular}_id)


async def add(session: AsyncSession, $singular: $Model) -> $Model:
    session.add($singular)
    await session.flush()
    return $singular


async def delete(session: AsyncSession, $singular: $Model) -> None:
    await session.delete($singular)
    await session.flush()


async def list_page(session: AsyncSession, *, params: PageParams) -> tuple[Sequence[$Model], int | None]:
    """A page (and one row more, see Keyset) and the total, in one statement; None for the total when the page is
    past the end (no row carries it) or asks for none."""
    if not params.include_total:
        return (await session.execute(BY_ID.page(select($Model), params))).scalars().all(), None
    total = select(func.count()).select_from($Model).scalar_subquery().label("total")
    rows = (await session.execute(BY_ID.page(select($Model, total), params))).all()
    return [row[0] for row in rows], (rows[0][1] if rows else None)


async def count(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from($Model))).scalar_one()
''')

SERVICE = Template('''\
"""$Title: administrators write them, anyone reads them."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import Audit, snapshot
from app.core.exceptions import found
from app.core.pagination import Page, PageParams
from app.features.$feature import repository
from app.features.$feature.models import $Model, ${Model}ID
from app.features.$feature.schemas import ${Model}Create, ${Model}Read, ${Model}Update

__all__ = ["create_$singular", "delete_$singular", "get_$singular", "list_$feature", "update_$singular"]

_AUDITED = ("name",)  # the fields an admin's writes are audited with (docs/security.md#audit-trail)


async def get_$singular(session: AsyncSession, *, ${singular}_id: ${Model}ID) -> $Model:
    """The $singular, or NotFoundError (a problem+json 404)."""
    $singular = await repository.get(session, ${singular}_id)
    return found($singular, f"$Model {${singular}_id} does not exist.")


async def list_$feature(session: AsyncSession, *, params: PageParams) -> Page[${Model}Read]:
    """A page of $feature in a stable order (by id), by number or after a cursor."""
    found, total = await repository.list_page(session, params=params)
    if total is None and params.include_total:
        total = await repository.count(session)
    rows, next_cursor = repository.BY_ID.split(found, params)
    items = [${Model}Read.model_validate(row) for row in rows]
    return Page[${Model}Read].build(items, total=total, params=params, next_cursor=next_cursor)


async def create_$singular(session: AsyncSession, *, data: ${Model}Create, audit: Audit) -> $Model:
    """Store a new $singular, audited in the same transaction."""
    $singular = await repository.add(session, $Model(name=data.name))
    after = snapshot($singular, _AUDITED)
    await audit.record(
        session,
        action="$singular.create",
        target_type="$singular",
        target_id=$singular.id,
        after=after,
    )
    return $singular


async def update_$singular(
    session: AsyncSession, *, ${singular}_id: ${Model}ID, changes: ${Model}Update, audit: Audit
) -> $Model:
    """Apply the fields given in `changes`; audited with their values before and after."""
    $singular = await get_$singular(session, ${singular}_id=${singular}_id)
    before = snapshot($singular, _AUDITED)
    for field in changes.model_fields_set:
        setattr($singular, field, getattr(changes, field))
    await session.flush()
    after = snapshot($singular, _AUDITED)
    await audit.record(
        session,
        action="$singular.update",
        target_type="$singular",
        target_id=$singular.id,
        before=before,
        after=after,
    )
    return $singular


async def delete_$singular(session: AsyncSession, *, ${singular}_id: ${Model}ID, audit: Audit) -> None:
    """Delete the $singular (NotFoundError when there is none), audited."""
    $singular = await get_$singular(session, ${singular}_id=${singular}_id)
    before = snapshot($singular, _AUDITED)
    await repository.delete(session, $singular)
    await audit.record(
        session,
        action="$singular.delete",
        target_type="$singular",
        target_id=${singular}_id,
        before=before,
    )
''')

ROUTER = Template("""\
from fastapi import APIRouter, status

from app.core.database import DBSession
from app.core.identifiers import ResourceID
from app.core.pagination import Page, Pagination
from app.features.$feature import service
from app.features.$feature.models import $Model
from app.features.$feature.schemas import ${Model}Create, ${Model}Read, ${Model}Update
from app.features.auth.dependencies import AdminAudit
from app.shared.routing import ForgeRoute

__all__ = ["router"]

router = APIRouter(prefix="/$path", tags=["$path"], route_class=ForgeRoute)


@router.get("")
async def list_$feature(session: DBSession, pagination: Pagination) -> Page[${Model}Read]:
    return await service.list_$feature(session, params=pagination)


@router.get("/{${singular}_id}", response_model=${Model}Read)
async def get_$singular(${singular}_id: ResourceID, session: DBSession) -> $Model:
    return await service.get_$singular(session, ${singular}_id=${singular}_id)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=${Model}Read)
async def create_$singular(data: ${Model}Create, session: DBSession, audit: AdminAudit) -> $Model:
    return await service.create_$singular(session, data=data, audit=audit)


@router.patch("/{${singular}_id}", response_model=${Model}Read)
async def update_$singular(
    ${singular}_id: ResourceID, changes: ${Model}Update, session: DBSession, audit: AdminAudit
) -> $Model:
    return await service.update_$singular(session, ${singular}_id=${singular}_id, changes=changes, audit=audit)


@router.delete("/{${singular}_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_$singular(${singular}_id: ResourceID, session: DBSession, audit: AdminAudit) -> None:
    await service.delete_$singular(session, ${singular}_id=${singular}_id, audit=audit)
""")

TESTS = Template('''\
"""$Title through the HTTP API.

Admin writes (audited), public reads, pages, problem+json errors.
"""

import httpx

from tests import helpers
from tests.helpers import error_pointers, problem

URL = "/api/v1/$path"


async def create(client: httpx.AsyncClient, admin: helpers.Headers, name: str = "First") -> dict[str, object]:
    response = await client.post(URL, json={"name": name}, headers=admin)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_an_admin_creates_and_anyone_reads(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    created = await create(client, admin, "  Spaced  ")

    assert created["name"] == "Spaced"
    assert {"id", "created_at", "updated_at"} <= created.keys()
    response = await client.get(f"{URL}/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created


async def test_the_list_is_paged(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    before = (await client.get(URL)).json()["total"]
    for index in range(3):
        await create(client, admin, f"Item {index}")

    page = (await client.get(URL, params={"page": 1, "size": 2})).json()

    assert page["total"] == before + 3
    assert len(page["items"]) == 2
    assert page["pages"] == (before + 3 + 1) // 2
    assert (await client.get(URL, params={"page": 10_000})).json()["items"] == []


async def test_an_admin_updates_and_deletes(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    created = await create(client, admin)
    url = f"{URL}/{created['id']}"

    updated = await client.patch(url, json={"name": "Renamed"}, headers=admin)
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "Renamed"
    assert (await client.delete(url, headers=admin)).status_code == 204
    problem(await client.get(url), 404, "not-found")


async def test_a_missing_one_is_a_problem_404(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    problem(await client.get(f"{URL}/999999"), 404, "not-found")
    problem(await client.patch(f"{URL}/999999", json={"name": "x"}, headers=admin), 404, "not-found")
    problem(await client.delete(f"{URL}/999999", headers=admin), 404, "not-found")


async def test_writes_are_for_administrators(
    client: httpx.AsyncClient, admin: helpers.Headers, user: helpers.Headers
) -> None:
    problem(await client.post(URL, json={"name": "x"}), 401, "unauthenticated")
    problem(await client.post(URL, json={"name": "x"}, headers=user), 403, "forbidden")
    created = await create(client, admin)
    problem(await client.patch(f"{URL}/{created['id']}", json={"name": "y"}, headers=user), 403, "forbidden")
    problem(await client.delete(f"{URL}/{created['id']}", headers=user), 403, "forbidden")


async def test_invalid_input_is_422_at_the_field(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    assert error_pointers(await client.post(URL, json={"name": "   "}, headers=admin)) == ["#/name"]
    assert error_pointers(await client.post(URL, json={"name": 1}, headers=admin)) == ["#/name"]
    created = await create(client, admin)
    assert error_pointers(await client.patch(f"{URL}/{created['id']}", json={}, headers=admin)) == ["#"]


async def test_admin_writes_are_audited(client: httpx.AsyncClient, admin: helpers.Headers) -> None:
    created = await create(client, admin)
    await client.patch(f"{URL}/{created['id']}", json={"name": "Renamed"}, headers=admin)
    trail = {"target_type": "$singular", "target_id": str(created["id"])}
    response = await client.get("/api/v1/admin/audit", params=trail, headers=admin)
    updated, made = response.json()["items"]  # newest first
    assert (made["action"], made["before"], made["after"]) == ("$singular.create", None, {"name": "First"})
    assert (updated["action"], updated["before"], updated["after"]) == (
        "$singular.update",
        {"name": "First"},
        {"name": "Renamed"},
    )
''')

MIGRATION = Template('''\
"""$feature

Revision ID: $revision
Revises: $down_revision
Create Date: $create_date
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.database

revision: str = "$revision"
down_revision: str | None = "$down_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "$table",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_$table")),
    )
    with op.batch_alter_table("$table", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_${table}_name"), ["name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("$table", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_${table}_name"))
    op.drop_table("$table")
''')

# The slice's files by name, under src/app/features/<feature>/.
FILES = {
    "__init__.py": INIT,
    "models.py": MODELS,
    "schemas.py": SCHEMAS,
    "repository.py": REPOSITORY,
    "service.py": SERVICE,
    "router.py": ROUTER,
}
