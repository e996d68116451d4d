"""Custom fields: contact fields an installation defines (name, label, type, and for a choice its
options). A contact keeps its values in `attributes` under the field's name, so templates use them as
`{{ company }}`; a contact without a value renders it empty, and `{% if company %}` is simply false.

Values are checked and converted wherever they come in (import rows, the API, the contact page), and
every problem names the field. Attributes that no field defines are kept as they come."""

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.db import save_given
from app.i18n import gettext as _
from app.keyset import after_name_id, fetch
from app.models import CustomField, utcnow

TYPES = ("text", "number", "date", "boolean", "choice")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# the template's own variables, and words Jinja reads as values
RESERVED = frozenset(
    {"email", "first_name", "last_name", "attributes", "unsubscribe_url", "preferences_url", "campaign"}
    | {"true", "false", "none", "loop", "self", "super", "varargs", "kwargs", "not", "and", "or", "in", "is"}
)
TEXT_MAX = 2000
_TRUE = {"true", "yes", "y", "1", "on", "ja", "x"}
_FALSE = {"false", "no", "n", "0", "off", "nein"}


class FieldProblem(ValueError):
    """A value or a definition that cannot be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Definition:
    """A field as the checks need it (a plain copy: an import's writer thread holds no ORM row)."""

    name: str
    label: str
    type: str
    choices: tuple[str, ...] = ()
    required: bool = False


def definitions(session: Session) -> dict[str, Definition]:
    rows = session.execute(select(CustomField).order_by(col(CustomField.name))).scalars()
    return {f.name: Definition(f.name, f.label, f.type, tuple(f.choices), f.required) for f in rows}


def fields_page(session: Session, limit: int, cursor: str | None) -> tuple[list[CustomField], str | None]:
    return fetch(session, by_name(cursor), limit, key=lambda f: (f.name, f.id))


def by_name(cursor: str | None) -> Any:
    return after_name_id(select(CustomField), col(CustomField.name), col(CustomField.id), cursor)


def get(session: Session, field_id: int) -> CustomField | None:
    return session.get(CustomField, field_id)


def all_fields(session: Session) -> Sequence[CustomField]:
    return session.execute(select(CustomField).order_by(col(CustomField.name))).scalars().all()


def _check_definition(name: str, label: str, type_: str, choices: Sequence[str]) -> list[str]:
    if not NAME.match(name):
        raise FieldProblem(
            "name", _("use lower-case letters, digits and _ (starting with a letter, at most 64), e.g. company")
        )
    if name in RESERVED:
        raise FieldProblem("name", _('"%(name)s" is a built-in template name; choose another', name=name))
    if not label.strip():
        raise FieldProblem("label", _("fill this in"))
    if type_ not in TYPES:
        raise FieldProblem("type", _("one of %(types)s", types=", ".join(TYPES)))
    cleaned = list(dict.fromkeys(c.strip() for c in choices if c.strip()))
    if type_ == "choice" and not cleaned:
        raise FieldProblem("choices", _("a choice field needs at least one option"))
    return cleaned if type_ == "choice" else []


def define(
    session: Session,
    name: str,
    label: str,
    type_: str,
    choices: Sequence[str] = (),
    required: bool = False,
    subscriber_editable: bool = False,
) -> CustomField:
    """A new field; raises FieldProblem. The caller commits. SUBSCRIBER_EDITABLE: the contact may change
    its value on their preference page."""
    name = name.strip()
    cleaned = _check_definition(name, label, type_, choices)
    if session.execute(select(col(CustomField.id)).where(col(CustomField.name) == name)).first() is not None:
        raise FieldProblem("name", _('a field named "%(name)s" already exists', name=name))
    field = CustomField(
        name=name,
        label=label.strip(),
        type=type_,
        choices=cleaned,
        required=required,
        subscriber_editable=subscriber_editable,
        created_at=utcnow(),
    )
    session.add(field)
    session.flush()
    return field


def change(
    session: Session,
    field: CustomField,
    label: str | None = None,
    choices: Sequence[str] | None = None,
    required: bool | None = None,
    subscriber_editable: bool | None = None,
) -> None:
    """Change what is given (the name and type stay: stored values and templates depend on them)."""
    cleaned = _check_definition(
        field.name, label if label is not None else field.label, field.type, choices or field.choices
    )
    save_given(
        session,
        field,
        label=label and label.strip(),
        choices=cleaned if choices is not None else None,
        required=required,
        subscriber_editable=subscriber_editable,
    )


def remove(session: Session, field: CustomField) -> None:
    """The definition goes; contacts keep their values as plain attributes."""
    session.delete(field)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def convert(field: Definition, value: Any) -> Any:
    """The value as stored for this field (None: empty); raises FieldProblem naming the field."""
    if _empty(value):
        if field.required:
            raise FieldProblem(field.name, _("is required"))
        return None
    text = value.strip() if isinstance(value, str) else value
    if field.type == "text":
        if not isinstance(text, str | int | float) or isinstance(text, bool):
            raise FieldProblem(field.name, _("expected text"))
        text = str(text)
        if len(text) > TEXT_MAX:
            raise FieldProblem(field.name, _("too long: at most %(n)s characters", n=TEXT_MAX))
        return text
    if field.type == "number":
        return _number(field, text)
    if field.type == "date":
        return _date(field, text)
    if field.type == "boolean":
        if isinstance(text, bool):
            return text
        word = str(text).lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise FieldProblem(field.name, _('expected yes or no (true/false), not "%(value)s"', value=text))
    for choice in field.choices:  # choice
        if str(text).lower() == choice.lower():
            return choice
    raise FieldProblem(
        field.name, _('"%(value)s" is not one of: %(choices)s', value=text, choices=", ".join(field.choices))
    )


def _number(field: Definition, value: Any) -> int | float:
    if isinstance(value, bool):
        raise FieldProblem(field.name, _("expected a number"))
    if isinstance(value, int | float):
        number: float = value
    else:
        raw = str(value).replace(" ", "")
        if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?", raw) or re.fullmatch(r"[+-]?\d+,\d+", raw):
            raw = raw.replace(".", "").replace(",", ".")  # 1.234,5 (German)
        else:
            raw = raw.replace(",", "")  # 1,234.5
        try:
            number = float(raw)
        except ValueError:
            raise FieldProblem(field.name, _('expected a number, not "%(value)s"', value=value)) from None
    if not math.isfinite(number):
        raise FieldProblem(field.name, _("expected a finite number"))
    return int(number) if float(number).is_integer() and abs(number) < 2**53 else number


def _date(field: Definition, value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raw = str(value)
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(raw, pattern).date().isoformat()
        except ValueError:
            continue
    raise FieldProblem(field.name, _('expected a date such as 2026-05-01, not "%(value)s"', value=value))


def clean(
    fields: Mapping[str, Definition], attributes: Mapping[str, Any], complete: bool = False
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """ATTRIBUTES with each defined field's value converted (an empty one as None: the caller drops it),
    and the problems. COMPLETE: the attributes are the whole record, so a required field that is
    missing is a problem too."""
    out: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for key, value in attributes.items():
        field = fields.get(key)
        if field is None:
            out[key] = value
            continue
        try:
            out[key] = convert(field, value)
        except FieldProblem as exc:
            problems.append(exc)
    if complete:
        problems += [
            FieldProblem(f.name, _("is required")) for f in fields.values() if f.required and f.name not in out
        ]
    return out, problems


def merged(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """CURRENT with CHANGES laid over it; a None (an emptied field) removes the key."""
    out = {**current, **changes}
    return {k: v for k, v in out.items() if v is not None}


def column_fields(
    headers: Sequence[str], fields: Mapping[str, Definition], chosen: Mapping[str, str]
) -> dict[str, str]:
    """Which import column feeds which field: what the user chose (header -> field name, "" for none),
    else a header that reads like the field's name or label ("Company", "company_name" for `company`)."""

    def key(text: str) -> str:
        return re.sub(r"[\s_\-.:]+", "", text.strip().lower())

    by_key = {key(f.name): f.name for f in fields.values()} | {key(f.label): f.name for f in fields.values()}
    out: dict[str, str] = {}
    for header in headers:
        if header in chosen:
            if chosen[header]:
                out[header] = chosen[header]
        elif key(header) in by_key:
            out[header] = by_key[key(header)]
    return out
