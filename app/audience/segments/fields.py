"""What a segment expression can name: the built-in fields, the installation's custom fields, and the
operators each kind of field takes."""

from collections.abc import Mapping

from app.audience.fields import Definition

CONSENT_STATES = ("subscribed", "unconfirmed", "unsubscribed")

# operators by kind of field, in the order the builder offers them
_EMPTY = ("is empty", "is not empty")
_ORDERED = ("=", "!=", "<", "<=", ">", ">=")
OPERATORS: dict[str, tuple[str, ...]] = {
    "text": ("=", "!=", "in", "not in", "contains", *_EMPTY),
    "choice": ("=", "!=", "in", "not in", *_EMPTY),
    "number": (*_ORDERED, "in", "not in", *_EMPTY),
    "date": (*_ORDERED, "within", *_EMPTY),
    "boolean": ("=", "!=", *_EMPTY),
    "created": (*_ORDERED, "within"),
    "list": ("=", "!=", "in", "not in"),
    "source": ("=", "!=", "in", "not in"),
    "consent": ("=", "!=", "in", "not in"),
}

# built-in name -> kind; a custom field of the same name is shadowed (named by its builtin)
BUILTINS: dict[str, str] = {
    "address": "text",
    "domain": "text",
    "first_name": "text",
    "last_name": "text",
    "language": "text",
    "created": "created",
    "source": "source",
    "list": "list",
    "consent": "consent",
}


def catalogue(custom: Mapping[str, Definition]) -> dict[str, Definition]:
    """Every field an expression may name, the built-ins first (their `type` is their kind here)."""
    out = {name: Definition(name, name, kind) for name, kind in BUILTINS.items()}
    return out | {d.name: d for d in custom.values() if d.name not in out}
