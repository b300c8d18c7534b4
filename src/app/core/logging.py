"""Structured logging with structlog: JSON lines in production, readable console output in development.

Request-scoped values (`request_id`, later the trace ids) are bound with `structlog.contextvars` by the request
middleware and merged into every line logged while the request runs. Standard-library loggers (uvicorn,
SQLAlchemy) go through the same renderer.
"""

import logging
import sys
from contextvars import ContextVar
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

from app.config import LogFormat, Settings
from app.core.tracing import add_trace_context

__all__ = ["REQUEST_ID", "configure_logging"]

_REDACTED = "[redacted]"
_HANDLER_NAME = "forgeapi"
_SENSITIVE_KEYS = frozenset(
    {"password", "new_password", "token", "access_token", "refresh_token", "authorization", "secret", "api_key"}
)


# The current request's id. One ContextVar set by the request middleware: cheaper per request than
# structlog.contextvars.bound_contextvars, which creates and resets a variable per key.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


def _add_request_id(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    request_id = REQUEST_ID.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def _redact_sensitive(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    for key in _SENSITIVE_KEYS.intersection(event_dict):
        event_dict[key] = _REDACTED
    return event_dict


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
    renderer: Processor
    if settings.effective_log_format is LogFormat.JSON:
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        # show_locals=False: a traceback's local variables can hold passwords and tokens.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False),
        )

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replace our own handler from an earlier call (tests build many apps); leave anyone else's (pytest's) alone.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != _HANDLER_NAME] + [handler]
    root.setLevel(settings.log_level.upper())
    # Our middleware writes the access log; uvicorn's own would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
