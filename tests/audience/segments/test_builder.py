"""The builder's shape of an expression, and the expression written back from it: every expression of
the language table survives the trip (the page's script writes the text the same way; the browser test
drives it)."""

from typing import Any

from sqlmodel import Session

from app.audience import fields
from app.audience.segments.builder import editor
from app.audience.segments.parse import parse
from app.audience.segments.tree import quote, to_builder, to_text
from tests.audience.segments.test_language import MATCHES


def _kind(name: str) -> str:
    return {"score": "number", "vip": "boolean", "list": "list"}.get(name, "text")


def written(node: dict[str, Any], top: bool = True) -> str:
    """What app/web/static/segments.js writes for a builder shape (the same rules, in Python)."""
    if node["type"] == "group":
        text = f" {node['op']} ".join(written(i, False) for i in node["items"])
        if node["not"]:
            return f"not ({text})"
        return text if top or len(node["items"]) < 2 else f"({text})"
    field, op, values = node["field"], node["op"], node["values"]
    if op == "":
        return f"{field} {values[0]}" if values else field
    if op in ("is empty", "is not empty"):
        return f"{field} {op}"
    if op == "within":
        return f"{field} within {values[0]} days"
    shown = [
        str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, int | float) else quote(v) for v in values
    ]
    if op in ("in", "not in"):
        return f"{field} {op} ({', '.join(shown)})"
    return f"{field} {op} {shown[0]}"


def test_every_expression_round_trips_through_the_builder(session: Session) -> None:
    fields.define(session, "country", "Country", "text")
    fields.define(session, "score", "Score", "number")
    fields.define(session, "vip", "VIP", "boolean")
    fields.define(session, "birthday", "Birthday", "date")
    fields.define(session, "plan", "Plan", "choice", ["Gold", "Silver"])
    custom = fields.definitions(session)
    for expression, _ in MATCHES:
        tree = parse(expression, custom)
        back = parse(written(to_builder(tree)), custom)
        assert to_text(back) == to_text(tree), expression


def test_the_editor_offers_fields_with_their_operators_and_events(session: Session) -> None:
    fields.define(session, "score", "Score", "number")
    ed = editor(session, "not (score > 3 or bounced hard within 9 days)")
    assert (
        '"name": "score", "kind": "number", "ops": ["=", "!=", "<", "<=", ">", ">=", "in", "not in", "is empty"'
        in ed.fields
    )
    assert '"name": "bounced", "kind": "event"' in ed.fields
    assert '"name": "opened", "kind": "event"' in ed.fields and '"name": "clicked", "kind": "event"' in ed.fields
    clicked = editor(session, "clicked link 'https://shop.example/a' within 9 days including machines")
    assert clicked.tree == (
        '{"type": "row", "field": "clicked", "op": "", '
        '"values": ["link \'https://shop.example/a\' within 9 days including machines"]}'
    )
    assert ed.tree == (
        '{"type": "group", "op": "or", "not": true, "items": [{"type": "row", "field": "score", "op": ">", "values": [3]}, '
        '{"type": "row", "field": "bounced", "op": "", "values": ["hard within 9 days"]}]}'
    )
    assert editor(session, "score >").tree == "null"  # shown as typed, with its error
