"""The tree a segment expression parses into, and its canonical text.

Every node keeps the offset of its first character in the expression, so an error found after
parsing (an unknown list, say) still names where it is."""

from dataclasses import dataclass
from datetime import date

Value = str | int | float | bool | date

# events of a contact's history; opened / clicked are read from per-contact tracking's hits
EVENTS = ("received", "bounced", "complained", "unsubscribed", "opened", "clicked")
ENGAGEMENT = ("opened", "clicked")


@dataclass(frozen=True)
class Condition:
    """FIELD OP VALUES: `country = 'DE'`, `list in ('news')`, `company is empty`, `created within 30 days`."""

    field: str
    op: str  # = != < <= > >= in | not in | contains | is empty | is not empty | within
    values: tuple[Value, ...]
    offset: int = 0


@dataclass(frozen=True)
class Event:
    """A contact's history: `bounced hard reason 'mailbox_full' campaign 7 within 90 days`,
    `clicked link 'https://shop.example/sale' campaign 7 within 30 days including machines`."""

    event: str
    hard: bool | None = None  # bounced only: hard / soft
    reason: str | None = None  # bounced only
    campaign: int | None = None
    days: int | None = None
    offset: int = 0
    link: str | None = None  # clicked only: the URL clicked
    machines: bool = False  # opened / clicked: machines' hits count too


@dataclass(frozen=True)
class Not:
    item: "Node"
    offset: int = 0


@dataclass(frozen=True)
class Group:
    """and / or over two or more items."""

    op: str
    items: tuple["Node", ...]
    offset: int = 0


Node = Condition | Event | Not | Group


def quote(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def condition_text(node: Condition | Event) -> str:
    """One condition as the expression writes it."""
    if isinstance(node, Event):
        words = [node.event]
        if node.hard is not None:
            words.append("hard" if node.hard else "soft")
        if node.reason is not None:
            words.append("reason " + quote(node.reason))
        if node.link is not None:
            words.append("link " + quote(node.link))
        if node.campaign is not None:
            words.append(f"campaign {node.campaign}")
        if node.days is not None:
            words.append(f"within {node.days} days")
        if node.machines:
            words.append("including machines")
        return " ".join(words)
    if node.op in ("is empty", "is not empty"):
        return f"{node.field} {node.op}"
    if node.op == "within":
        return f"{node.field} within {node.values[0]} days"
    if node.op in ("in", "not in"):
        return f"{node.field} {node.op} (" + ", ".join(quote(v) for v in node.values) + ")"
    return f"{node.field} {node.op} {quote(node.values[0])}"


def to_text(node: Node, parent: str = "") -> str:
    """The canonical text: single spaces, quoted values, parentheses only where needed."""
    if isinstance(node, Condition | Event):
        return condition_text(node)
    if isinstance(node, Not):
        inner = to_text(node.item, "not")
        return f"not {inner}" if isinstance(node.item, Condition | Event | Not) else f"not ({to_text(node.item)})"
    text = f" {node.op} ".join(to_text(i, node.op) for i in node.items)
    return f"({text})" if parent and parent != node.op else text


def conditions(node: Node) -> list[Condition | Event]:
    if isinstance(node, Condition | Event):
        return [node]
    if isinstance(node, Not):
        return conditions(node.item)
    return [c for i in node.items for c in conditions(i)]


def to_builder(node: Node) -> dict[str, object]:
    """The tree as the page's builder shows it: groups (and / or, possibly negated) of rows (field,
    operator, values). The builder writes the expression back from the same shape."""
    if isinstance(node, Not):
        inner = to_builder(node.item)
        if inner["type"] == "group" and not inner["not"]:
            return {**inner, "not": True}
        return {"type": "group", "op": "and", "not": True, "items": [inner]}
    if isinstance(node, Group):
        return {"type": "group", "op": node.op, "not": False, "items": [to_builder(i) for i in node.items]}
    if isinstance(node, Event):
        detail = condition_text(node)[len(node.event) :].strip()
        return {"type": "row", "field": node.event, "op": "", "values": [detail] if detail else []}
    values: list[object] = [v.isoformat() if isinstance(v, date) else v for v in node.values]
    return {"type": "row", "field": node.field, "op": node.op, "values": values}
