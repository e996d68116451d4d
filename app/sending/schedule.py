"""A campaign's send time typed as a local date and time in an IANA time zone (zoneinfo), stored in UTC and
shown again in the reader's zone.

Daylight saving time: a local time that does not exist (the hour the clocks skip in spring) is refused with the
times around it; one that happens twice (the hour repeated in autumn) means its first occurrence, the one
still on summer time, and the page shows the time with its UTC offset so the choice is visible."""

import functools
import zoneinfo
from datetime import UTC, datetime

from app.i18n import gettext as _

DEFAULT_ZONE = "UTC"


class ScheduleInvalid(ValueError):
    """`field` names the form field at fault (send_at or send_zone)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone this machine knows, by name (the form's choices)."""
    return tuple(sorted(zoneinfo.available_timezones() | {DEFAULT_ZONE}))


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone NAME names; UTC for none; ScheduleInvalid (send_zone) for a name that is not one."""
    if not name:
        return zoneinfo.ZoneInfo(DEFAULT_ZONE)
    if name not in zone_names():
        raise ScheduleInvalid(
            "send_zone", _("%(zone)s is not a time zone; choose one such as Europe/Berlin", zone=name)
        )
    return zoneinfo.ZoneInfo(name)


def to_utc(local: datetime, zone_name: str | None) -> datetime:
    """LOCAL (a wall-clock time without zone) in the zone, as UTC. A time the clocks skip is refused; one they
    repeat is its first occurrence."""
    where = zone(zone_name)
    wall = local.replace(tzinfo=None)
    first = wall.replace(tzinfo=where, fold=0)
    as_utc = first.astimezone(UTC)
    if as_utc.astimezone(where).replace(tzinfo=None) != wall:  # skipped: no instant reads like this
        typed, reads = wall.strftime("%Y-%m-%d %H:%M"), as_utc.astimezone(where).strftime("%H:%M")
        raise ScheduleInvalid(
            "send_at",
            _(
                "%(time)s does not exist in %(zone)s: the clocks go forward that night and skip it"
                " (that moment reads %(after)s); choose a time outside the skipped hour",
                time=typed,
                zone=where.key,
                after=reads,
            ),
        )
    return as_utc


def in_zone(value: datetime, zone_name: str | None) -> datetime:
    """A stored (UTC) time on the zone's wall clock; an unknown zone name shows UTC."""
    try:
        where = zone(zone_name)
    except ScheduleInvalid:
        where = zoneinfo.ZoneInfo(DEFAULT_ZONE)
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(where)


def shown(value: datetime | None, zone_name: str | None) -> str:
    """A schedule time as the pages show it: wall clock, zone and UTC offset (2026-10-25 02:30 Europe/Berlin,
    UTC+02:00)."""
    if value is None:
        return ""
    local = in_zone(value, zone_name)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {local.tzinfo}, UTC{offset[:3]}:{offset[3:]}"
