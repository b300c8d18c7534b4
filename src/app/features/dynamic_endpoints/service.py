"""Endpoint specs: strict validation, no shadowing, persistence, and the registry change that follows a commit.

Every write bumps the registry's version first: that row lock queues spec writers (PostgreSQL; SQLite's write
lock does it there), so two conflicting specs cannot both pass their checks. The new registry is built inside the
transaction and installed when it commits (never before, never after a rollback).
"""

from collections.abc import Sequence
from typing import NamedTuple

import orjson
from anyio import to_thread
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.core.audit import Audit, snapshot
from app.core.exceptions import ConflictError, FieldError, InvalidInputError, found
from app.core.pagination import Page, PageParams
from app.core.response_cache import mark_changed
from app.features.api_keys import service as api_keys_service
from app.features.dynamic_endpoints import inclusion, jsonschemas, repository
from app.features.dynamic_endpoints.models import EndpointSpec, SpecID
from app.features.dynamic_endpoints.registry import (
    Segment,
    SpecData,
    cache_namespace,
    conflicts,
    parse_path,
    templates_of,
)
from app.features.dynamic_endpoints.schemas import EndpointSpecRead, EndpointSpecWrite
from app.features.dynamic_endpoints.state import EndpointRuntime

__all__ = [
    "ImportReport",
    "create_spec",
    "delete_spec",
    "export_specs",
    "get_spec",
    "import_specs",
    "list_specs",
    "load_registry",
    "replace_spec",
    "set_enabled",
    "spec_data",
]

_SCOPES = frozenset(scope.value for scope in api_keys_service.Scope)
_AUDITED = (*EndpointSpecWrite.model_fields, "version")  # a spec as written, and its version


def spec_data(spec: EndpointSpec) -> SpecData:
    return SpecData(
        id=spec.id,
        name=spec.name,
        path=spec.path,
        kind=spec.kind,
        method=spec.method,
        auth=spec.auth,
        summary=spec.summary,
        request_schema=spec.request_schema,
        response_schema=spec.response_schema,
        example=spec.example,
        version=spec.version,
        cacheable=spec.cacheable,
    )


def _kind_errors(data: EndpointSpecWrite, segments: tuple[Segment, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    if data.kind == "collection":
        if data.method is not None:
            errors.append(
                FieldError("#/method", "a collection serves GET and POST, and GET/PUT/DELETE on {id}", "kind")
            )
        if any(s.param for s in segments):
            errors.append(FieldError("#/path", "a collection's path has no parameters", "kind"))
        if data.request_schema is None or data.request_schema.get("type") != "object":
            errors.append(FieldError("#/request_schema", 'a collection needs a schema of "type": "object"', "kind"))
    else:
        if data.method is None:
            errors.append(FieldError("#/method", "a static spec needs a method", "kind"))
        if data.example is None:
            errors.append(FieldError("#/example", "a static spec answers with its example: give one", "kind"))
    return errors


def _validate(data: EndpointSpecWrite) -> tuple[Segment, ...]:
    """The path's segments; raises InvalidInputError listing everything wrong with the spec."""
    segments, path_problems = parse_path(data.path)
    errors = [FieldError("#/path", problem, "path") for problem in path_problems]
    errors += _kind_errors(data, segments)
    if data.auth.startswith("scope:") and data.auth.removeprefix("scope:") not in _SCOPES:
        errors.append(FieldError("#/auth", f"unknown scope; API keys carry {', '.join(sorted(_SCOPES))}", "auth"))
    for field in ("request_schema", "response_schema"):
        if (schema := getattr(data, field)) is not None:
            errors += jsonschemas.check_schema(schema, pointer=f"#/{field}")
    if data.cacheable and (data.auth != "public" or (data.kind == "static" and data.method != "GET")):
        errors.append(FieldError("#/cacheable", "only the reads of a public endpoint can be cached", "cacheable"))
    if data.example is not None:
        errors += jsonschemas.check_json_value(data.example, pointer="#/example")
    if not errors and data.example is not None and data.response_schema is not None:
        validator = jsonschemas.compile_validator(data.response_schema)
        errors += [
            FieldError("#/example" + e.pointer[1:], e.message, e.code)
            for e in jsonschemas.instance_errors(validator, data.example)
        ]
    if errors:
        msg = f"The endpoint spec has {len(errors)} problem(s); see `errors`."
        raise InvalidInputError(msg, errors=errors)
    return segments


async def _check_answers(data: EndpointSpecWrite) -> None:
    """Refuse a collection whose response_schema refuses documents its request_schema accepts (every write of one
    would be a 500); inclusion.py says which pairs are proved, probed, or let through."""
    if data.kind != "collection" or data.request_schema is None or data.response_schema is None:
        return
    # In a worker thread: probing may spend a validation's whole step budget (jsonschemas.MAX_STEPS).
    found = await to_thread.run_sync(inclusion.check, data.request_schema, data.response_schema)
    if found is None:
        return
    shown = jsonschemas.shown(found.answered)
    errors = [FieldError("#/request_schema", f"accepts documents that response_schema refuses, e.g. {shown}", "compat")]
    errors += [
        FieldError(
            "#/response_schema", f"refuses {shown} (request_schema accepts it) at {e.pointer}: {e.message}", "compat"
        )
        for e in found.errors
    ]
    msg = "The request_schema accepts documents the response_schema refuses: writing one would always fail."
    raise InvalidInputError(msg, errors=errors)


def _check_conflicts(
    data: EndpointSpecWrite, segments: tuple[Segment, ...], others: Sequence[EndpointSpec], max_specs: int
) -> None:
    mine = templates_of(data.kind, segments)
    for other in others:
        if other.name == data.name:
            msg = f"An endpoint named {data.name!r} exists already."
            raise ConflictError(msg)
        if data.kind == other.kind == "static" and data.path == other.path and data.method != other.method:
            continue  # one static spec per method on a path: they never serve the same request
        theirs = templates_of(other.kind, parse_path(other.path)[0])
        if any(conflicts(a, b) for a in mine for b in theirs):
            msg = f"{data.path} would match requests that {other.path} (endpoint {other.name!r}) serves."
            raise ConflictError(msg, conflicting_endpoint=other.name)
    if len(others) >= max_specs:
        msg = f"There are {max_specs} endpoint specs already (FORGE_DYNAMIC_ENDPOINTS_MAX_SPECS)."
        raise ConflictError(msg)


def _served(rows: Sequence[EndpointSpec]) -> list[SpecData]:
    """What the registry serves: the enabled specs (a disabled one keeps its name and path, so it cannot conflict
    when it is enabled again)."""
    return [spec_data(row) for row in rows if row.enabled]


def _install_after_commit(
    session: AsyncSession, runtime: EndpointRuntime, snapshot_version: int, rows: Sequence[EndpointSpec]
) -> None:
    snapshot = runtime.build(snapshot_version, _served(rows))

    def installed(_session: Session) -> None:
        runtime.install(snapshot, local_change=True)

    event.listen(session.sync_session, "after_commit", installed, once=True)


async def _stage(session: AsyncSession, runtime: EndpointRuntime, version: int) -> None:
    _install_after_commit(session, runtime, version, await repository.list_specs(session))


async def load_registry(session: AsyncSession, runtime: EndpointRuntime, *, known_version: int | None) -> bool:
    """Install the stored registry unless its version is `known_version`; whether it was (re)loaded."""
    version = await repository.current_version(session)
    if version == known_version:
        return False
    runtime.install(runtime.build(version, _served(await repository.list_specs(session))))
    return True


async def get_spec(session: AsyncSession, *, spec_id: SpecID) -> EndpointSpec:
    return found(await repository.get_spec(session, spec_id), f"Endpoint spec {spec_id} does not exist.")


async def list_specs(session: AsyncSession, *, params: PageParams) -> Page[EndpointSpecRead]:
    rows = await repository.specs_page(session, params=params)
    total = await repository.count_specs(session) if params.include_total else None
    specs, next_cursor = repository.SPECS_BY_ID.split(rows, params)
    items = [EndpointSpecRead.model_validate(s) for s in specs]
    return Page[EndpointSpecRead].build(items, total=total, params=params, next_cursor=next_cursor)


def _assign(spec: EndpointSpec, data: EndpointSpecWrite, actor_id: int | None) -> None:
    for field in EndpointSpecWrite.model_fields:
        setattr(spec, field, getattr(data, field))
    spec.updated_by = actor_id


async def _upsert(
    session: AsyncSession, *, spec: EndpointSpec | None, data: EndpointSpecWrite, actor_id: int | None, max_specs: int
) -> EndpointSpec:
    segments = _validate(data)
    await _check_answers(data)
    others = [s for s in await repository.list_specs(session) if spec is None or s.id != spec.id]
    _check_conflicts(data, segments, others, max_specs if spec is None else max_specs + 1)
    if spec is None:
        spec = EndpointSpec(created_by=actor_id)
        _assign(spec, data, actor_id)
        return await repository.add(session, spec)
    if spec.kind != data.kind:
        msg = f"An endpoint's kind cannot change ({spec.kind} to {data.kind}); delete it and create a new one."
        raise ConflictError(msg)
    if spec.kind == "collection":
        await _check_documents(session, spec_id=spec.id, data=data)
    _assign(spec, data, actor_id)
    spec.version += 1
    await session.flush()
    mark_changed(session, cache_namespace(spec.id))  # its stored reads may answer differently now
    return spec


async def _check_documents(session: AsyncSession, *, spec_id: SpecID, data: EndpointSpecWrite) -> None:
    """Refuse new schemas that stored documents would violate: reads then never meet an invalid document."""
    request = jsonschemas.compile_validator(data.request_schema) if data.request_schema else None
    response = jsonschemas.compile_validator(data.response_schema) if data.response_schema else None
    failing = [
        document_id
        async for document_id, document in repository.iter_documents(session, spec_id=spec_id)
        if (request is not None and not jsonschemas.is_valid(request, document))
        or (response is not None and not jsonschemas.is_valid(response, {**document, "id": document_id}))
    ]
    if failing:
        msg = f"{len(failing)} stored document(s) do not satisfy the new schemas; change or delete them first."
        raise ConflictError(msg, document_ids=failing[:20])


async def create_spec(
    session: AsyncSession, *, data: EndpointSpecWrite, runtime: EndpointRuntime, audit: Audit
) -> EndpointSpec:
    """Store a new spec, created by `audit`'s actor; it is served as soon as the transaction commits."""
    version = await repository.bump_version(session)
    spec = await _upsert(session, spec=None, data=data, actor_id=audit.actor.user_id, max_specs=runtime.max_specs)
    await _stage(session, runtime, version)
    after = snapshot(spec, _AUDITED)
    await audit.record(
        session, action="endpoint_spec.create", target_type="endpoint_spec", target_id=spec.id, after=after
    )
    return spec


async def replace_spec(
    session: AsyncSession, *, spec_id: SpecID, data: EndpointSpecWrite, runtime: EndpointRuntime, audit: Audit
) -> EndpointSpec:
    """Replace a spec whole (its `version` goes up); a collection keeps its documents, which must still fit."""
    version = await repository.bump_version(session)
    spec = await get_spec(session, spec_id=spec_id)
    before = snapshot(spec, _AUDITED)
    spec = await _upsert(session, spec=spec, data=data, actor_id=audit.actor.user_id, max_specs=runtime.max_specs)
    await _stage(session, runtime, version)
    await audit.record(
        session,
        action="endpoint_spec.replace",
        target_type="endpoint_spec",
        target_id=spec_id,
        before=before,
        after=snapshot(spec, _AUDITED),
    )
    return spec


async def set_enabled(
    session: AsyncSession, *, spec_id: SpecID, enabled: bool, runtime: EndpointRuntime, audit: Audit
) -> EndpointSpec:
    """Serve a spec again, or stop serving it while keeping it (and a collection's documents); the change reaches
    every instance as any spec change does. Asking for what it already is changes nothing (it is audited all the
    same, as the request was made)."""
    version = await repository.bump_version(session)
    spec = await get_spec(session, spec_id=spec_id)
    before = snapshot(spec, _AUDITED)
    if spec.enabled != enabled:
        spec.enabled = enabled
        spec.version += 1
        spec.updated_by = audit.actor.user_id
        await session.flush()
    await _stage(session, runtime, version)
    await audit.record(
        session,
        action="endpoint_spec.enable" if enabled else "endpoint_spec.disable",
        target_type="endpoint_spec",
        target_id=spec_id,
        before=before,
        after=snapshot(spec, _AUDITED),
    )
    return spec


async def delete_spec(session: AsyncSession, *, spec_id: SpecID, runtime: EndpointRuntime, audit: Audit) -> None:
    """Remove a spec (a collection's documents go with it); its routes vanish when the transaction commits."""
    version = await repository.bump_version(session)
    spec = await get_spec(session, spec_id=spec_id)
    before = snapshot(spec, _AUDITED)
    await session.delete(spec)
    await session.flush()
    mark_changed(session, cache_namespace(spec_id))
    await _stage(session, runtime, version)
    await audit.record(
        session, action="endpoint_spec.delete", target_type="endpoint_spec", target_id=spec_id, before=before
    )


async def export_specs(session: AsyncSession) -> list[EndpointSpecWrite]:
    """Every spec as written (no ids, versions or timestamps), ordered by name: stable under version control."""
    return [
        EndpointSpecWrite.model_validate({field: getattr(spec, field) for field in EndpointSpecWrite.model_fields})
        for spec in await repository.list_specs(session)
    ]


class ImportReport(NamedTuple):
    created: int
    updated: int
    unchanged: int
    version: int  # the registry's version after the import: the same as before (nothing to announce) if no change


def _same_spec(spec: EndpointSpec, data: EndpointSpecWrite) -> bool:
    """Whether `data` is what `spec` stores, field for field as exported: JSON compared as text, so that `1` is not
    `true` or `1.0`, and a reordered example (served as written) is a change."""
    stored = EndpointSpecWrite.model_validate({field: getattr(spec, field) for field in EndpointSpecWrite.model_fields})
    return orjson.dumps(stored.model_dump()) == orjson.dumps(data.model_dump())


async def _changes(session: AsyncSession, specs: Sequence[EndpointSpecWrite]) -> list[bool]:
    return [
        existing is None or not _same_spec(existing, data)
        for data in specs
        for existing in [await repository.get_by_name(session, data.name)]
    ]


async def import_specs(
    session: AsyncSession, *, specs: Sequence[EndpointSpecWrite], runtime: EndpointRuntime | None, max_specs: int
) -> ImportReport:
    """Upsert `specs` by name, validated as the API does, in the caller's one transaction (all or nothing). A spec
    equal to the stored one is left alone (no version bump); when none differs, nothing is written at all."""
    if not any(await _changes(session, specs)):
        return ImportReport(0, 0, len(specs), await repository.current_version(session))
    version = await repository.bump_version(session)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    # Compared again under the registry's lock: another writer may have changed a spec since the first look.
    for index, (data, changed) in enumerate(zip(specs, await _changes(session, specs), strict=True)):
        existing = await repository.get_by_name(session, data.name)
        if not changed:
            counts["unchanged"] += 1
            continue
        try:
            await _upsert(session, spec=existing, data=data, actor_id=None, max_specs=max_specs)
        except InvalidInputError as exc:
            errors = [FieldError(f"#/{index}{e.pointer[1:]}", e.message, e.code) for e in exc.errors]
            raise InvalidInputError(f"Spec {index} ({data.name}): {exc.detail}", errors=errors) from None
        except ConflictError as exc:
            raise ConflictError(f"Spec {index} ({data.name}): {exc.detail}") from None
        counts["created" if existing is None else "updated"] += 1
    if runtime is not None:
        await _stage(session, runtime, version)
    return ImportReport(counts["created"], counts["updated"], counts["unchanged"], version)
