"""The JSON document store behind `collection` specs.

Bodies are validated against the spec's `request_schema` on every write (422 with a pointer per violation); what
is answered (`{...document, "id": n}`) is validated against `response_schema` before it leaves. A stored document
can never fail that check on read: changing a collection's schemas is refused while stored documents would
violate them (service.replace_spec), so a failure here is a defect in the spec pair (request and response schemas
that disagree), answered as a 500 and logged, like any response that breaks its contract.
"""

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.exceptions import FieldError, ForgeError, InvalidInputError, NotFoundError
from app.core.pagination import PageParams
from app.features.dynamic_endpoints import jsonschemas, repository
from app.features.dynamic_endpoints.models import EndpointDocument
from app.features.dynamic_endpoints.registry import CompiledSpec
from app.shared.routing import MAX_ID

__all__ = ["create", "delete", "get", "list_page", "replace", "validate_body"]

_log = structlog.get_logger("app.dynamic_endpoints")


async def validate_body(spec: CompiledSpec, body: Any) -> None:
    """Raise InvalidInputError listing each violation of the spec's request schema (with its JSON pointer).

    A body is bounded in size and depth like a spec's example before it is validated: a self-recursive schema
    (`"additionalProperties": {"$ref": "#"}`) would otherwise recurse as deep as the body nests. The validation
    itself is bounded in cost (jsonschemas.MAX_STEPS, `too_complex` beyond) and holds the event loop only briefly."""
    if spec.request_validator is None:
        return
    errors = jsonschemas.check_json_value(body, pointer="#") or await jsonschemas.instance_errors_bounded(
        spec.request_validator, body
    )
    if spec.data.kind == "collection" and isinstance(body, dict) and "id" in body:
        errors.append(FieldError("#/id", "is assigned by the server", "reserved"))
    if errors:
        raise InvalidInputError(f"The request has {len(errors)} invalid field(s); see `errors`.", errors=errors)


async def _answer(spec: CompiledSpec, document: EndpointDocument) -> dict[str, Any]:
    item: dict[str, Any] = {**document.data, "id": document.id}
    validator = spec.response_validator
    if validator is not None and (errors := await jsonschemas.instance_errors_bounded(validator, item)):
        _log.error(
            "response_schema_violation",
            endpoint=spec.name,
            document_id=document.id,
            pointers=[e.pointer for e in errors],
        )
        msg = f"The stored document does not satisfy the endpoint's response_schema ({len(errors)} violation(s))."
        raise ForgeError(msg)
    return item


async def _document(session: AsyncSession, spec: CompiledSpec, document_id: int) -> EndpointDocument:
    document = None
    if 1 <= document_id <= MAX_ID:
        document = await repository.get_document(session, spec_id=spec.id, document_id=document_id)
    if document is None:
        msg = f"Document {document_id} does not exist in {spec.data.path}."
        raise NotFoundError(msg)
    return document


async def create(session: AsyncSession, *, spec: CompiledSpec, body: Any) -> dict[str, Any]:
    await validate_body(spec, body)
    document = await repository.add(session, EndpointDocument(spec_id=spec.id, data=body))
    return await _answer(spec, document)


async def get(session: AsyncSession, *, spec: CompiledSpec, document_id: int) -> dict[str, Any]:
    return await _answer(spec, await _document(session, spec, document_id))


async def replace(session: AsyncSession, *, spec: CompiledSpec, document_id: int, body: Any) -> dict[str, Any]:
    await validate_body(spec, body)
    document = await _document(session, spec, document_id)
    document.data = body
    document.updated_at = utcnow()
    await session.flush()
    return await _answer(spec, document)


async def delete(session: AsyncSession, *, spec: CompiledSpec, document_id: int) -> None:
    await session.delete(await _document(session, spec, document_id))
    await session.flush()


async def list_page(session: AsyncSession, *, spec: CompiledSpec, params: PageParams) -> dict[str, Any]:
    """A `Page` of documents, by id."""
    documents = await repository.documents_page(session, spec_id=spec.id, offset=params.offset, limit=params.size)
    total = await repository.count_documents(session, spec_id=spec.id)
    return {
        "items": [await _answer(spec, document) for document in documents],
        "total": total,
        "page": params.page,
        "size": params.size,
        "pages": -(-total // params.size),
    }
