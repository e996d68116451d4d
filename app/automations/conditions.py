"""The conditions automations test, as SQL over contacts: a trigger's segment or date field, a branch's
opened / clicked / field / segment. They reuse the segments language and engagement, so an automation
means by "in the segment" or "opened" what a campaign's audience and report mean."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlmodel import Session, col

from app.audience.segments.store import SegmentProblem, compiled
from app.automations import steps
from app.models import Automation, AutomationStep, Contact, Delivery, Segment
from app.tracking.engagement import hits


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _segment(session: Session, segment_id: int | None, now: datetime) -> ColumnElement[bool] | None:
    segment = session.get(Segment, segment_id) if segment_id is not None else None
    if segment is None:
        return None
    return compiled(session, segment.expression, now).where


def trigger_condition(session: Session, automation: Automation, now: datetime) -> ColumnElement[bool] | None:
    """The contact-row condition of a segment or date trigger (None: its segment or field is gone)."""
    if automation.trigger == "segment_entered":
        return _segment(session, automation.segment_id, now)
    try:
        return compiled(session, f"{automation.field} = {_quoted(now.date().isoformat())}", now).where
    except SegmentProblem:  # the field was removed or is no longer a date
        return None


def branch_condition(
    session: Session, automation: Automation, ordered: Sequence[AutomationStep], index: int, now: datetime
) -> Any:
    """A selectable of the contact ids that meet the branch ORDERED[INDEX]'s condition."""
    options = ordered[index].options
    on = options["on"]
    if on in ("opened", "clicked", "not_opened", "not_clicked"):
        sent = [s for s in ordered[:index] if s.kind == steps.SEND and s.campaign_id is not None]
        campaign_id = sent[-1].campaign_id if sent else automation.campaign_id
        counted = hits(on.endswith("clicked"), campaign_id=campaign_id)  # a person's hits, as segments count them
        engaged = (
            select(col(Delivery.contact_id))
            .select_from(counted.source)
            .where(*counted.where, col(Delivery.contact_id).is_not(None))
            .distinct()
        )
        if on.startswith("not_"):
            return select(col(Contact.id)).where(col(Contact.id).not_in(engaged))
        return engaged
    where: ColumnElement[bool] | None
    if on == "segment":
        where = _segment(session, options.get("segment_id"), now)
    else:
        try:
            where = compiled(session, f"{options['field']} = {_quoted(options.get('value', ''))}", now).where
        except SegmentProblem:
            where = None
    if where is None:  # its segment or field is gone: nobody meets it
        return select(col(Contact.id)).where(col(Contact.id) < 0)
    return select(col(Contact.id)).where(where)
