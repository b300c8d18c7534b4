"""A new feature's names, derived from the one the developer gives, and the names it may not take."""

import builtins
import keyword
import re
import sys
from dataclasses import dataclass

__all__ = ["FeatureNames", "ScaffoldError", "feature_names"]

_IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_MAX_LENGTH = 40
# Package or URL names the service already uses, or that would read as infrastructure rather than a domain.
RESERVED = frozenset(
    {
        "admin", "aggregate", "alembic", "api", "app", "auth", "cli", "config", "core", "docs", "feature", "features",
        "health", "healthz", "lambda_handler", "main", "metrics", "migrations", "models", "openapi", "readyz",
        "redoc", "repository", "router", "scaffold", "schemas", "service", "shared", "static", "test", "tests", "x",
        "fastapi", "pydantic", "sqlalchemy", "starlette",
    }
)  # fmt: skip
# Names the generated code already gives to its own variables, parameters and imports: the singular is one too.
_TEMPLATE_NAMES = frozenset(
    {
        "admin", "body", "changes", "client", "create", "created", "data", "field", "func", "msg", "name", "page",
        "pagination", "params", "repository", "response", "router", "row", "rows", "select", "service", "session",
        "status", "total", "url", "user",
    }
)  # fmt: skip
_TEMPLATE_CLASSES = frozenset(
    {
        "APIRouter", "AdminUser", "Annotated", "AsyncSession", "Base", "BaseModel", "ConfigDict", "DBSession",
        "ForgeRoute", "Mapped", "Name", "NotFoundError", "Page", "PageParams", "Pagination", "ResourceID", "Self",
        "Sequence", "String", "StringConstraints", "TimestampMixin",
    }
)  # fmt: skip


class ScaffoldError(Exception):
    """The feature cannot be written as asked; the message says why and what to do instead."""


@dataclass(frozen=True, slots=True)
class FeatureNames:
    feature: str  # the package and the plural: invoices, line_items
    singular: str  # a variable and the table: invoice, line_item
    model: str  # the class: Invoice, LineItem
    path: str  # the URL segment: invoices, line-items
    title: str  # for docstrings: Invoices, Line items


def _singular_of(plural: str) -> str:
    if plural.endswith("ies") and len(plural) > len("ies") + 1:  # categories -> category, not pies -> py
        return plural[:-3] + "y"
    if plural.endswith(("sses", "xes", "ches", "shes")):
        return plural[:-2]
    if plural.endswith("s") and not plural.endswith("ss"):
        return plural[:-1]
    return plural


def _check_identifier(name: str, what: str) -> None:
    if not _IDENTIFIER.fullmatch(name) or len(name) > _MAX_LENGTH:
        msg = (
            f"{what} {name!r} is not a valid feature name: use lower-case letters, digits and single underscores, "
            f"starting with a letter, at most {_MAX_LENGTH} characters (e.g. invoices, line_items)."
        )
        raise ScaffoldError(msg)
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        msg = f"{what} {name!r} is a Python keyword; choose another name."
        raise ScaffoldError(msg)


def feature_names(name: str, *, singular: str | None = None) -> FeatureNames:
    """Validate `name` (and the singular, given or derived) and derive the other names, or raise ScaffoldError."""
    _check_identifier(name, "The name")
    if name in RESERVED or name in sys.stdlib_module_names:
        msg = f"{name!r} is reserved (the service or Python already uses it); choose a more specific name."
        raise ScaffoldError(msg)
    singular = singular or _singular_of(name)
    _check_identifier(singular, "The singular")
    if singular in _TEMPLATE_NAMES or singular in RESERVED or hasattr(builtins, singular):
        msg = f"The singular {singular!r} would shadow a name the generated code uses; pass another with --singular."
        raise ScaffoldError(msg)
    model = "".join(part.capitalize() for part in singular.split("_"))
    if model in _TEMPLATE_CLASSES or model.endswith(("Create", "Update", "Read")):
        msg = f"The class name {model!r} would clash with the generated code; pass another singular with --singular."
        raise ScaffoldError(msg)
    return FeatureNames(
        feature=name,
        singular=singular,
        model=model,
        path=name.replace("_", "-"),
        title=name.replace("_", " ").capitalize(),
    )
