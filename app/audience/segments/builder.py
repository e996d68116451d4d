"""What the page's builder needs: the fields it offers (with each one's operators) and the tree of
the expression being edited, in the shape the builder draws (app.audience.segments.tree.to_builder).
The builder writes the expression back from that shape (app/web/static/segments.js)."""

import json
from dataclasses import dataclass

from sqlmodel import Session

from app.audience import fields as custom_fields
from app.audience.segments.fields import OPERATORS, catalogue
from app.audience.segments.parse import SegmentError, parse
from app.audience.segments.tree import EVENTS, to_builder

# what may follow each event, shown in the builder's value box while it is empty
QUALIFIERS = {
    "received": "campaign 7 within 90 days",
    "bounced": "hard reason 'mailbox_full' campaign 7 within 90 days",
    "complained": "campaign 7 within 90 days",
    "unsubscribed": "campaign 7 within 90 days",
    "opened": "campaign 7 within 30 days including machines",
    "clicked": "link 'https://shop.example/sale' campaign 7 within 30 days including machines",
}


@dataclass(frozen=True)
class Editor:
    fields: str  # JSON: [{name, kind, ops, choices, hint}], the events last (kind "event", hint: its qualifiers)
    tree: str  # JSON of the expression's tree; "null" when it does not parse (the text is shown as it is)


def editor(session: Session, expression: str) -> Editor:
    custom = custom_fields.definitions(session)
    offered: list[dict[str, object]] = [
        {"name": f.name, "kind": f.type, "ops": list(OPERATORS[f.type]), "choices": list(f.choices)}
        for f in catalogue(custom).values()
    ]
    offered += [{"name": e, "kind": "event", "ops": [""], "choices": [], "hint": QUALIFIERS[e]} for e in EVENTS]
    tree: object = None
    if expression.strip():
        try:
            tree = to_builder(parse(expression, custom))
        except SegmentError:
            tree = None
    return Editor(json.dumps(offered), json.dumps(tree))
