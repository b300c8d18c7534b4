"""`ForgeRoute`: FastAPI's route with two changes to how a request body is read, and edge caching on request.

- 415 for a body in a media type the operation does not accept. FastAPI parses a body as JSON only when the
  Content-Type says JSON; any other type reaches validation as raw bytes and ends as a puzzling 422.
- JSON numbers with a fraction are parsed as `Decimal`, not `float`, so that money arrives exactly as the client
  wrote it (`19.99` stays `19.99`), and the non-standard `NaN`/`Infinity` literals are refused.
"""

import json
import re
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path, params
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from app.core.exceptions import UnsupportedMediaTypeError
from app.shared.caching import cached_handler, edge_cache_policy

__all__ = ["MAX_ID", "ForgeRoute", "ResourceID"]

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _accepts_json(media_type: str) -> bool:
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _refuse_constant(name: str) -> Any:
    msg = f"{name} is not valid JSON"
    raise ValueError(msg)


# A JSON escape of a UTF-16 surrogate; valid pairs combine into one character, lone ones cannot be stored.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


class ExactJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                parsed = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
                if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(parsed):
                    msg = "a string holds a lone UTF-16 surrogate"
                    raise ValueError(msg)
            except json.JSONDecodeError:
                raise
            except (ValueError, RecursionError) as exc:  # NaN, bad UTF-8, huge integers, deep nesting...
                # Re-raised as a decode error, so that FastAPI reports it like any malformed JSON (400).
                raise json.JSONDecodeError(str(exc) or type(exc).__name__, "", 0) from exc
            self._json = parsed
        return self._json


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


_NOT_MODIFIED_DOC = {
    "description": "Not Modified: `If-None-Match` named the current ETag. No body; ETag and Cache-Control as a 200."
}


class ForgeRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if edge_cache_policy(endpoint) is not None:
            kwargs["responses"] = {**(kwargs.get("responses") or {}), 304: _NOT_MODIFIED_DOC}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if (policy := edge_cache_policy(self.endpoint)) is not None:
            if writes := (self.methods or set()) - {"GET", "HEAD"}:
                msg = f"@edge_cached is for reads; {self.path} also takes {sorted(writes)}"
                raise TypeError(msg)
            handler = cached_handler(handler, policy)
        if self.body_field is None:
            return handler
        is_form = isinstance(self.body_field.field_info, params.Form)
        accepted: Callable[[str], bool] = (lambda media: media in _FORM_TYPES) if is_form else _accepts_json
        expected = " or ".join(_FORM_TYPES) if is_form else "application/json"

        async def check_media_type(request: Request) -> Response:
            if _has_body(request):
                media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                if not accepted(media_type):
                    shown = media_type or "no Content-Type"
                    msg = f"This operation takes {expected}, not {shown}."
                    raise UnsupportedMediaTypeError(msg)
            return await handler(ExactJSONRequest(request.scope, request.receive))

        return check_media_type


# Integer primary keys are 32-bit on PostgreSQL: a larger id is a clear 422, never a database error.
MAX_ID = 2**31 - 1
ResourceID = Annotated[int, Path(ge=1, le=MAX_ID, description="The resource's id.")]
