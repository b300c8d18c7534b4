"""`Idempotency-Key` for write routes that opt in (see `core/idempotency.py` for the guarantees).

A route opts in by taking `idempotency: Idempotency` *before* its `DBSession` (dependencies are solved in order,
and the claim must commit before the request's transaction takes SQLite's write lock) and by answering through
`await idempotency.respond(session, model, status_code=...)`, which stores the response in the same transaction:

    @router.post("", status_code=201, response_model=InvoiceRead)
    async def create_invoice(data: InvoiceCreate, idempotency: Idempotency, session: DBSession, ...) -> Response:
        invoice = await service.create_invoice(session, ...)
        return await idempotency.respond(session, InvoiceRead.model_validate(invoice), status_code=201)

Without the header the route behaves as before. Keys are scoped by caller (user or API key), kept 24 hours.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, Request
from pydantic import BaseModel
from starlette.responses import Response

from app.core import idempotency as store
from app.core.caller import caller_of
from app.core.context import context_of

__all__ = ["IDEMPOTENCY_RESPONSES", "Idempotency", "IdempotencyGuard", "install_idempotency"]

REPLAYED_HEADER = "Idempotent-Replayed"
_JSON = "application/json"

IDEMPOTENCY_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "A request with the same Idempotency-Key is still in progress (Retry-After says when)."},
    422: {"description": "Invalid input, or the Idempotency-Key was already used with a different request."},
}


class _Replay(Exception):  # noqa: N818 - not an error: it carries the stored response out of the dependency
    def __init__(self, stored: store.StoredResponse) -> None:
        self.stored = stored


@dataclass(frozen=True, slots=True)
class IdempotencyGuard:
    held: store.Claim | None  # None: no key was sent (or the caller is anonymous): nothing to store

    async def respond(
        self, session: Any, model: BaseModel, *, status_code: int, headers: dict[str, str] | None = None
    ) -> Response:
        body = model.model_dump_json(by_alias=True).encode()
        if self.held is not None:
            stored = store.StoredResponse(status_code, {"content-type": _JSON, **(headers or {})}, body)
            await store.complete(session, self.held, stored)
        return Response(body, status_code=status_code, media_type=_JSON, headers=headers)


def _canonical(body: bytes) -> bytes:
    # The same JSON document sent again with other spacing or key order is the same request.
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        return body


async def _guard(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="A unique string per logical request (a UUID): a retry with the same key and body returns "
            "the first response instead of repeating the write. Kept 24 hours.",
        ),
    ] = None,
) -> AsyncIterator[IdempotencyGuard]:
    context = context_of(request)
    caller = None
    if idempotency_key is not None:
        caller = caller_of(request.scope).identity()
    if idempotency_key is None or caller is None:  # anonymous: authentication will refuse the request anyway
        yield IdempotencyGuard(None)
        return
    database = context.database
    request_fingerprint = store.fingerprint(request.method, request.url.path, _canonical(await request.body()))
    lease = timedelta(seconds=context.settings.idempotency_lease_seconds)
    async with database.session(writes=True) as session:
        outcome = await store.claim(
            session, caller=caller, key=idempotency_key, request_fingerprint=request_fingerprint, lease=lease
        )
    if isinstance(outcome, store.StoredResponse):
        raise _Replay(outcome)
    try:
        yield IdempotencyGuard(outcome)
    except BaseException:
        async with database.session(writes=True) as session:
            await store.release(session, outcome)
        raise


# scope="function": released (on failure) right after the handler, before the response, like the session.
Idempotency = Annotated[IdempotencyGuard, Depends(_guard, scope="function")]


async def _replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _Replay)  # noqa: S101 - registered for _Replay only
    stored = exc.stored
    return Response(stored.body, status_code=stored.status, headers={**stored.headers, REPLAYED_HEADER: "true"})


def install_idempotency(app: FastAPI) -> None:
    app.add_exception_handler(_Replay, _replay)
