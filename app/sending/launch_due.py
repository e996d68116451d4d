"""A launch's first due time for each ledger row under the campaign's timing (app.sending.window), in SQL.

With a window only, every row is due at the same moment (now, or the window's next opening). With local time,
each recipient's due time depends on their zone: the rules give one due time per known zone, written into a
small temporary table the launch's INSERT ... SELECT joins on the contact field; a contact without a zone, or
with a name that is not one, takes the default zone's time."""

from datetime import datetime

from sqlalchemy import Column, MetaData, String, Table, and_, case, func, insert, literal, text
from sqlmodel import Session, col

from app.audience.compile import FirstDue
from app.db import is_postgresql
from app.models import Contact
from app.models.states import DeliveryState
from app.models.types import UTCDateTime
from app.sending.window import Timing

ZONE_DUE = "launch_zone_due"


def first_due(session: Session, timing: Timing, now: datetime) -> FirstDue:
    """When each row of a launch at NOW is first due, and whether it waits for its time. With local time this
    creates the zones' table, which `done` drops once the ledger is written."""
    if timing.local is None:
        once = timing.first_due(now)
        return FirstDue(once, DeliveryState.WAITING if once > now else DeliveryState.QUEUED)
    zones = _zone_table(session, timing, now)
    fallback = literal(timing.first_due(now), UTCDateTime())
    at = func.coalesce(zones.c.due, fallback)
    state = case((at > literal(now, UTCDateTime()), DeliveryState.WAITING), else_=DeliveryState.QUEUED)
    zone_name = col(Contact.attributes)[timing.local.zone_field].as_string()
    return FirstDue(at, state, (zones, and_(zones.c.zone == zone_name)))


def done(session: Session, due: FirstDue) -> None:
    """The launch has written its ledger: the zones' table goes (on SQLite it would stay with the connection)."""
    if due.joined is not None:
        session.execute(text(f"DROP TABLE {_qualified(session)}"))


def _qualified(session: Session) -> str:
    return ("pg_temp." if is_postgresql(session) else "temp.") + ZONE_DUE


def _zone_table(session: Session, timing: Timing, now: datetime) -> Table:
    session.execute(text(f"DROP TABLE IF EXISTS {_qualified(session)}"))  # one a failed launch left behind
    table = Table(
        ZONE_DUE,
        MetaData(),
        Column("zone", String(64), primary_key=True),
        Column("due", UTCDateTime(), nullable=False),
        prefixes=["TEMPORARY"],
    )
    table.create(session.connection())
    session.execute(insert(table), [{"zone": z, "due": at} for z, at in timing.first_due_by_zone(now).items()])
    if is_postgresql(session):
        session.execute(text(f"ANALYZE {_qualified(session)}"))
    return table
