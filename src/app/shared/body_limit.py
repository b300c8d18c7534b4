"""`BodyLimit`: a request body larger than `FORGE_MAX_BODY_BYTES` is a 413, whether its length is declared or not.

A declared `Content-Length` over the limit is refused before the app runs. A body sent without one (chunked) is
counted as the app reads it, and refused the moment it passes the limit: the pipeline answers, closes the
connection (the rest is never read) and tells the app the client has gone.
"""

from starlette.types import Message

from app.core.exceptions import ForgeError, PayloadTooLargeError
from app.shared.pipeline import RequestCycle, RequestUnit

__all__ = ["BodyLimit"]


class BodyLimit(RequestUnit):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    async def admit(self, cycle: RequestCycle) -> ForgeError | None:
        for name, value in cycle.scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return None  # the server refuses a malformed length itself
                return self._too_large() if declared > self.max_bytes else None
        return None

    def received(self, cycle: RequestCycle, message: Message) -> ForgeError | None:  # noqa: ARG002 - counted by the cycle
        return self._too_large() if cycle.body_bytes_read > self.max_bytes else None

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(f"The request body exceeds {self.max_bytes} bytes.")
