"""`RequestId`: every request has an id, in `X-Request-ID` both ways, in the logs and in every problem it answers.

A well-formed incoming id (a load balancer's, a client's) is kept, so that one id follows the request across hops;
anything else is replaced, never echoed, because it lands in logs and headers.
"""

import os
import re

from app.core.logging import REQUEST_ID
from app.shared.pipeline import RawHeaders, RequestCycle, RequestUnit

__all__ = ["REQUEST_ID_HEADER", "RequestId"]

REQUEST_ID_HEADER = b"x-request-id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:\-]{8,128}")


def _request_id(headers: RawHeaders) -> str:
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            if _WELL_FORMED.fullmatch(candidate):
                return candidate
            break
    return os.urandom(16).hex()  # as unique as uuid4().hex, at a fraction of the cost


class RequestId(RequestUnit):
    def enter(self, cycle: RequestCycle) -> None:
        request_id = cycle.request_id = _request_id(cycle.scope["headers"])
        cycle.scope.setdefault("state", {})["request_id"] = request_id  # problem bodies quote it
        cycle.request_id_token = REQUEST_ID.set(request_id)  # log lines carry it

    def response_headers(self, cycle: RequestCycle, headers: RawHeaders) -> None:
        headers.append((REQUEST_ID_HEADER, cycle.request_id.encode()))

    def leave(self, cycle: RequestCycle) -> None:
        if cycle.request_id_token is not None:
            REQUEST_ID.reset(cycle.request_id_token)
