"""The API's refusals in the console's words: a field's error beside its field, anything else above the form or in
the action's alert, in the same sentences the API's problem details use (`app.core.problems`)."""

from pydantic import ValidationError
from starlette_admin.exceptions import ActionFailed, FormValidationError

from app.core.exceptions import ForgeError
from app.core.problems import error_message

__all__ = ["field_errors", "refusal"]


def _field_of(pointer: str) -> str:
    """`#/price` (a FieldError's pointer) or `#/body/price` -> `price`."""
    parts = [part for part in pointer.removeprefix("#").split("/") if part]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return parts[0] if parts else ""


def field_errors(exc: ValidationError | ForgeError) -> FormValidationError | None:
    """The errors of a refused input, field by field, as the form shows them; None when none names a field."""
    errors: dict[str | int, str] = {}
    if isinstance(exc, ValidationError):
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            errors.setdefault(name, error_message(error))
    else:
        for field_error in getattr(exc, "errors", None) or []:
            errors.setdefault(_field_of(field_error.pointer), field_error.message)
    errors.pop("", None)
    return FormValidationError(errors) if errors else None


def refusal(exc: ValidationError | ForgeError) -> ActionFailed:
    """A refused action's alert: the problem's detail (and its fields' errors, for an input)."""
    if isinstance(exc, ValidationError):
        return ActionFailed(
            "; ".join(f"{e['loc'][0] if e['loc'] else 'input'}: {error_message(e)}" for e in exc.errors())
        )
    return ActionFailed(exc.detail)
