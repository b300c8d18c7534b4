"""Structured logging with structlog: JSON lines in production, readable console output in development.

Request-scoped values (`request_id`, later the trace ids) are bound with `structlog.contextvars` by the request
middleware and merged into every line logged while the request runs. Standard-library loggers (uvicorn,
SQLAlchemy) go through the same renderer. Values under a key whose name says "secret" (`password`, `token`,
`client_secret`, `api_key_pepper`, `Authorization`, `Cookie`...: see `_SENSITIVE_FRAGMENTS`) are replaced by
`[redacted]` wherever they are, nested mappings and lists included; ids and types of such things (`api_key_id`,
`token_type`) are kept. Redaction cannot see a secret inside free text: never put one in an event or a message.
The one exception is URLs, which third-party libraries print in their own words (httpx logs every request's URL,
redis-py and others put them in errors): in every rendered line, the user-info of a URL (`https://user:pw@host`)
and its query parameters named like secrets (`?token=`, `&api_key=`, `X-Amz-Signature=`) are redacted.
"""

import logging
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

from app.config import LogFormat, Settings
from app.core.tracing import add_trace_context

__all__ = ["REQUEST_ID", "configure_logging", "is_sensitive_name"]

_REDACTED = "[redacted]"
_HANDLER_NAME = "forgeapi"
# A key whose name contains one of these holds a secret: `client_secret`, `api_key_pepper`, `X-Api-Key`, `Cookie`...
_SENSITIVE_FRAGMENTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "pepper",
    "credential",
    "private_key",
)
# ...unless it names a secret without holding one: `api_key_id`, `token_type`, `key_hint`.
_HARMLESS_SUFFIXES = ("_id", "_type", "_hint")
# Nested values deeper than this are replaced whole: a log line has no business carrying such structures.
_MAX_DEPTH = 6
# URLs in rendered text: `scheme://user:pw@` and the parameters of a query (`?a=b&c=d`). Quotes and angle brackets
# end a URL: a rendered line puts URLs between them.
_URL_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#@\s\"'<>]+@")
_URL_QUERY_PARAMETER = re.compile(r"([?&;])([^=&#\s\"'<>]+)=([^&#\s\"'<>]*)")
# Query parameters that carry a credential under names `is_sensitive_name` does not know: signed URLs' signatures,
# plain `key`, `sig`, `auth`, `code` (an OAuth authorization code).
_SENSITIVE_QUERY_NAMES = frozenset({"key", "sig", "signature", "auth", "code", "x-amz-signature"})


# The current request's id. One ContextVar set by the request middleware: cheaper per request than
# structlog.contextvars.bound_contextvars, which creates and resets a variable per key.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


def _add_request_id(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    request_id = REQUEST_ID.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


@lru_cache(maxsize=1024)
def is_sensitive_name(key: str) -> bool:
    """Whether a value under this name holds a secret (`client_secret`, `X-Api-Key`; not `api_key_id`): what the
    logs redact and the audit trail masks."""
    name = key.lower().replace("-", "_")
    return any(fragment in name for fragment in _SENSITIVE_FRAGMENTS) and not name.endswith(_HARMLESS_SUFFIXES)


def _redacted(value: Any, depth: int) -> Any:
    """`value` with the values of sensitive keys replaced, at any depth; the same object when nothing changed
    (the caller's dicts and lists are never modified)."""
    if isinstance(value, Mapping):
        if depth >= _MAX_DEPTH:
            return _REDACTED
        items = {
            k: _REDACTED if isinstance(k, str) and is_sensitive_name(k) else _redacted(v, depth + 1)
            for k, v in value.items()
        }
        return items if any(items[k] is not v for k, v in value.items()) else value
    if isinstance(value, list | tuple):
        if depth >= _MAX_DEPTH:
            return _REDACTED
        elements = [_redacted(element, depth + 1) for element in value]
        if all(new is old for new, old in zip(elements, value, strict=True)):
            return value
        return tuple(elements) if isinstance(value, tuple) else elements
    return value


def _redact_query_parameter(match: re.Match[str]) -> str:
    separator, name, _value = match.groups()
    if is_sensitive_name(name) or name.lower() in _SENSITIVE_QUERY_NAMES:
        return f"{separator}{name}={_REDACTED}"
    return match.group(0)


def _redact_urls(_logger: Any, _method: str, line: str | EventDict) -> str | EventDict:
    """The rendered line with the credentials in its URLs redacted (runs after the renderer, on its text)."""
    if not isinstance(line, str) or "://" not in line:  # the access log and most events: no URL, no regex
        return line
    line = _URL_USERINFO.sub(rf"\1{_REDACTED}@", line)
    return _URL_QUERY_PARAMETER.sub(_redact_query_parameter, line)


def _redact_sensitive(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    for key, value in event_dict.items():
        if is_sensitive_name(key):
            event_dict[key] = _REDACTED
        elif isinstance(value, Mapping | list | tuple) and key != "exc_info":
            event_dict[key] = _redacted(value, 1)
    return event_dict


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]  # its stream is a TextIO
    """Writes to `sys.stderr` as it is when the line is written, as `logging.lastResort` does, unless a stream was
    set: a process whose stderr is replaced after logging was configured (`forge serve` under a CLI test runner,
    which closes its stream afterwards) would otherwise lose every later line to "I/O operation on closed file"."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self._pinned = False

    def setStream(self, stream: Any) -> Any:  # noqa: N802 - logging's name
        self._pinned = True
        return super().setStream(stream)

    def emit(self, record: logging.LogRecord) -> None:
        if not self._pinned:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(settings: Settings) -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        add_trace_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_sensitive,
    ]
    # Everything that depends on the format runs in the handler (replaced on every call), not in structlog's own
    # chain, which a logger keeps from its first use (cache_logger_on_first_use): a logger first used under one
    # configuration would otherwise keep rendering that way after another.
    renderer: list[Processor]
    if settings.effective_log_format is LogFormat.JSON:
        renderer = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        # Python's own traceback, not rich's: rich highlights every frame's source, which took 150-250 ms for 30
        # frames here and seconds for a real request's chained stack, all of it blocking the event loop (every
        # other request of the worker waited on one logged 500). It also never shows locals, which can hold
        # passwords and tokens.
        renderer = [
            structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback)
        ]

    structlog.configure(
        # filter_by_level first: below the configured level, an event is dropped before any processor runs (the
        # access log line of every request would otherwise be stamped, redacted and built, then thrown away).
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer, _redact_urls],
        )
    )
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replace our own handler from an earlier call (tests build many apps); leave anyone else's (pytest's) alone.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != _HANDLER_NAME] + [handler]
    root.setLevel(settings.log_level.upper())
    # SQL statements (SQLAlchemy logs them at INFO) only when the service runs at DEBUG, as Django and Rails do:
    # at INFO they would be several lines per request. Even at DEBUG, no line of stored values: aiosqlite's DEBUG
    # lines print every call with its arguments (each statement's parameters), SQLAlchemy's print result rows
    # (password hashes, e-mail addresses); statements show with their parameters hidden.
    debug_only_level = logging.INFO if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    for name in ("aiosqlite", "sqlalchemy.engine"):
        logging.getLogger(name).setLevel(debug_only_level)
    # httpx logs every request it sends at INFO (the URL, the status): a line per upstream call, which the trace
    # already has. Like SQL, only when the service runs at DEBUG; its URLs are redacted even then.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(debug_only_level)
    # Our middleware writes the access log; uvicorn's own would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
