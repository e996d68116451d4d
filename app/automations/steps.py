"""What each kind of step takes (its options, checked into a canonical form) and where and when a position
that reaches a step is due. Nobody stands at a wait step: a position that reaches one goes to the step after
it (after every wait in a row), due when the waits are over; so a wait costs the sweep nothing."""

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlmodel import Session, col

from app.models import AutomationStep, Campaign, CustomField, MailingList, MessageTemplate, Segment, WebhookEndpoint
from app.models.types import MAX_ID
from app.sending.refused import Refused

SEND, WAIT, BRANCH, LIST_ADD, LIST_REMOVE, WEBHOOK = "send", "wait", "branch", "list_add", "list_remove", "webhook"
KINDS = (SEND, WAIT, BRANCH, LIST_ADD, LIST_REMOVE, WEBHOOK)
BRANCH_ON = ("opened", "clicked", "not_opened", "not_clicked", "field", "segment")
EXIT = "exit"
MAX_DAYS = 3650


def _int(options: dict[str, Any], name: str, low: int, high: int) -> int:
    value = options.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Refused(f"options.{name}", f"give a whole number from {low} to {high}")
    return value


def row_id(session: Session, value: Any, model: Any, noun: str, field: str) -> int:
    """VALUE as the id of an existing MODEL row; Refused naming FIELD otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise Refused(field, f"no such {noun}: {str(value)[:40]}")
    if session.get(model, value) is None:
        raise Refused(field, f"no such {noun}: {value}")
    return value


def _row(session: Session, options: dict[str, Any], name: str, model: Any, noun: str) -> int:
    return row_id(session, options.get(name), model, noun, f"options.{name}")


def _zone(options: dict[str, Any]) -> str:
    zone = str(options.get("zone") or "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Refused("options.zone", f"unknown time zone: {zone[:60]}") from None
    return zone


def field_exists(session: Session, name: str) -> bool:
    found = select(col(CustomField.id)).where(col(CustomField.name) == name)
    return bool(name) and session.execute(found).first() is not None


def checked(session: Session, kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options of a step of KIND in their canonical form; Refused names the option at fault. (A
    branch's `else` target is checked against the automation's order by the store.)"""
    if kind not in KINDS:
        raise Refused("kind", f"choose one of {', '.join(KINDS)}")
    if not isinstance(options, dict):
        raise Refused("options", "give an object")
    if kind == SEND:
        subject = str(options.get("subject") or "").strip()[:998]
        if options.get("message_of") is not None:  # a campaign's message again (resending to non-openers)
            return {"message_of": _row(session, options, "message_of", Campaign, "campaign"), "subject": subject}
        template_id = _row(session, options, "template_id", MessageTemplate, "template")
        template = session.get(MessageTemplate, template_id)
        if template is None or template.kind != "template":
            raise Refused("options.template_id", "choose a template, not a layout")
        return {"template_id": template_id, "subject": subject}
    if kind == WAIT:
        if options.get("days") is not None:
            return {"days": _int(options, "days", 0, MAX_DAYS)}
        weekday = options.get("weekday")
        out: dict[str, Any] = {"hour": _int(options, "hour", 0, 23), "zone": _zone(options)}
        out["weekday"] = None if weekday is None else _int(options, "weekday", 0, 6)
        return out
    if kind == BRANCH:
        on = options.get("on")
        if on not in BRANCH_ON:
            raise Refused("options.on", f"choose one of {', '.join(BRANCH_ON)}")
        target = options.get("else", EXIT)
        if target != EXIT and (isinstance(target, bool) or not isinstance(target, int)):
            raise Refused("options.else", "give a later step's id, or exit")
        out = {"on": on, "else": target}
        if on == "field":
            field = str(options.get("field") or "")
            if not field_exists(session, field):
                raise Refused("options.field", f"no such custom field: {field[:64]}")
            out |= {"field": field, "value": str(options.get("value", ""))[:200]}
        elif on == "segment":
            out["segment_id"] = _row(session, options, "segment_id", Segment, "segment")
        return out
    if kind in (LIST_ADD, LIST_REMOVE):
        return {"list_id": _row(session, options, "list_id", MailingList, "list")}
    return {"endpoint_id": _row(session, options, "endpoint_id", WebhookEndpoint, "webhook endpoint")}


def due_after(kind: str, options: dict[str, Any], now: datetime) -> datetime:
    """When a position that reaches a step of this kind at NOW is due there."""
    if kind != WAIT:
        return now
    if options.get("days") is not None:
        return now + timedelta(days=int(options["days"]))
    zone = ZoneInfo(options.get("zone") or "UTC")
    local = now.astimezone(zone)
    weekday = options.get("weekday")
    for ahead in range(8):  # the first such hour after now: today's, or within the next week
        day = local.date() + timedelta(days=ahead)
        if weekday is not None and day.weekday() != weekday:
            continue
        at = datetime.combine(day, time(int(options["hour"])), zone)
        if at > local:
            return at.astimezone(now.tzinfo)
    raise AssertionError("a weekday and hour always come within eight days")


def jump_target(ordered: Sequence[AutomationStep], branch: AutomationStep) -> AutomationStep | None:
    """The step a branch sends those who do not meet its condition to; None: they leave the automation."""
    target = branch.options.get("else", EXIT)
    return next((s for s in ordered if s.id == target), None)


def arrival(ordered: Sequence[AutomationStep], index: int, now: datetime) -> dict[str, Any]:
    """The position's columns once it reaches ORDERED[INDEX] at NOW: the first step from there that is not a
    wait, due when the waits before it are over; done when none is left."""
    due = now
    while index < len(ordered) and ordered[index].kind == WAIT:
        due = due_after(WAIT, ordered[index].options, due)
        index += 1
    if index >= len(ordered):
        return {"step_id": None, "due_at": None, "state": "done"}
    return {"step_id": ordered[index].id, "due_at": due, "state": "active"}
