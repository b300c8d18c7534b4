"""The JSON document store behind `collection` specs.

Bodies are validated against the spec's `request_schema` on every write (422 with a pointer per violation); what
is answered (`{...document, "id": n}`) is validated against `response_schema` before it leaves. A spec whose
response_schema refuses documents its request_schema accepts is refused at save where that can be decided
(inclusion.py), and changing a collection's schemas is refused while stored documents would violate them
(service.replace_spec). A document that still fails on read (a pair probing could not fault, or a row edited
outside the API) is a `StoredDocumentInvalidError`: a 500 of its own type naming the endpoint, logged once by the
problem handler, and the write that produced it is rolled back.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import utcnow
from app.core.exceptions import FieldError, ForgeError, InvalidInputError, found
from app.core.identifiers import MAX_ID
from app.core.pagination import PageParams
from app.core.response_cache import mark_changed
from app.features.dynamic_endpoints import jsonschemas, repository
from app.features.dynamic_endpoints.models import EndpointDocument
from app.features.dynamic_endpoints.registry import CompiledSpec

__all__ = ["StoredDocumentInvalidError", "create", "delete", "get", "list_page", "replace", "validate_body"]


class StoredDocumentInvalidError(ForgeError):
    """A document the endpoint would answer fails its response_schema: the server's fault (500), not the caller's,
    and not transient (a 503 would invite retries that fail the same way); its own type tells it from a crash."""

    slug = "stored-document-invalid"
    title = "Stored Document Does Not Fit Its Endpoint"


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
        # Pointers and the schema's terms only, never the document's values; the problem handler logs this detail.
        where = ", ".join(f"{e.pointer} {e.message}" for e in errors[:5])
        msg = (
            f"Endpoint {spec.name!r} ({spec.data.path}): document {document.id} does not satisfy the endpoint's "
            f"response_schema ({len(errors)} violation(s): {where})."
        )
        raise StoredDocumentInvalidError(msg, endpoint=spec.name, document_id=document.id)
    return item


async def _document(session: AsyncSession, spec: CompiledSpec, document_id: int) -> EndpointDocument:
    document = None
    if 1 <= document_id <= MAX_ID:  # a larger id would be the database's error, not a 404
        document = await repository.get_document(session, spec_id=spec.id, document_id=document_id)
    return found(document, f"Document {document_id} does not exist in {spec.data.path}.")


async def create(session: AsyncSession, *, spec: CompiledSpec, body: Any) -> dict[str, Any]:
    await validate_body(spec, body)
    document = await repository.add(session, EndpointDocument(spec_id=spec.id, data=body))
    mark_changed(session, spec.data.cache_namespace)
    return await _answer(spec, document)


async def get(session: AsyncSession, *, spec: CompiledSpec, document_id: int) -> dict[str, Any]:
    return await _answer(spec, await _document(session, spec, document_id))


async def replace(session: AsyncSession, *, spec: CompiledSpec, document_id: int, body: Any) -> dict[str, Any]:
    await validate_body(spec, body)
    document = await _document(session, spec, document_id)
    document.data = body
    document.updated_at = utcnow()
    await session.flush()
    mark_changed(session, spec.data.cache_namespace)
    return await _answer(spec, document)


async def delete(session: AsyncSession, *, spec: CompiledSpec, document_id: int) -> None:
    await session.delete(await _document(session, spec, document_id))
    await session.flush()
    mark_changed(session, spec.data.cache_namespace)


async def list_page(session: AsyncSession, *, spec: CompiledSpec, params: PageParams) -> dict[str, Any]:
    """A `Page` of documents, by id, as the dict it serialises to: `Page.model_dump` would walk every document again
    (measured 8x slower for a page of 100)."""
    rows = await repository.documents_page(session, spec_id=spec.id, params=params)
    documents, next_cursor = repository.DOCUMENTS_BY_ID.split(rows, params)
    total = await repository.count_documents(session, spec_id=spec.id) if params.include_total else None
    return {
        "items": [await _answer(spec, document) for document in documents],
        "total": total,
        "page": params.page,
        "size": params.size,
        "pages": None if total is None else params.pages_for(total),
        "next_cursor": next_cursor,
    }
