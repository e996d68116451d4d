"""Small helpers for reading HTML forms: every problem is kept under the name of its field."""

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from app.i18n import gettext as _


class Credentials(BaseModel):
    """The e-mail address and password a sign-in or first-run form posts (absent: empty)."""

    email: str = ""
    password: str = ""


@dataclass(frozen=True)
class FormState:
    """What a page's form shows: each problem under its field, the values as typed (nothing has to be
    typed twice) and the page's status. The default: the form as first shown."""

    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    status_code: int = 200


FRESH = FormState()


def refused(errors: dict[str, str], values: dict[str, Any] | None = None) -> FormState:
    """The form sent back with what is wrong (400)."""
    return FormState(errors, values or {}, 400)


class FormErrors(dict[str, str]):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, message)


def add_validation_errors(errors: FormErrors, exc: ValidationError) -> None:
    """Pydantic's findings under their fields, in words for people (the field's label is beside them)."""
    for e in exc.errors():
        errors.add(str(e["loc"][0]), plain_message(e))


def problems_of(exc: ValueError) -> FormErrors:
    """A refused form's problems under their fields: pydantic's findings in words for people, or a service's
    refusal that names its `field`."""
    errors = FormErrors()
    if isinstance(exc, ValidationError):
        add_validation_errors(errors, exc)
    else:
        errors.add(getattr(exc, "field", "name"), str(exc))
    return errors


def plain_message(error: ErrorDetails) -> str:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return _("fill this in")
    if kind == "string_too_short":
        return _("too short: at least %(count)s characters", count=ctx["min_length"])
    if kind == "string_too_long":
        return _("too long: at most %(count)s characters", count=ctx["max_length"])
    if kind.startswith("int_"):
        return _("enter a whole number")
    if kind.startswith(("datetime_", "date_")):
        return _("enter a date and time, e.g. 2026-05-01 09:00")
    return _("this value cannot be used here")


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def ints(form: FormData, name: str) -> list[int]:
    return [int(v) for v in form.getlist(name) if isinstance(v, str) and v.isdigit()]


def addresses(raw: str) -> list[str]:
    """Addresses typed one per line or separated by commas or semicolons."""
    return [a.strip() for a in raw.replace(";", "\n").replace(",", "\n").splitlines() if a.strip()]


def typed_headers(form: FormData, errors: FormErrors) -> dict[str, str]:
    """Custom headers typed one a line as `Name: value` (checked later by app.sending.headers); a line
    without a colon is an error under "headers"."""
    raw = form.get("headers")
    headers: dict[str, str] = {}
    for n, line in enumerate((raw if isinstance(raw, str) else "").splitlines(), 1):
        if line.strip():
            name, colon, value = line.partition(":")
            if not colon:
                errors.add("headers", _("line %(n)s: write Name: value", n=n))
            headers[name.strip()] = value.strip()
    return headers


def headers_text(headers: dict[str, str]) -> str:
    """Custom headers as the form shows them, one a line."""
    return "\n".join(f"{k}: {v}" for k, v in headers.items())
