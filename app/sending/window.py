"""Sending windows and local-time delivery: when a message may go out.

A window is a set of weekdays and an hour range (start inclusive, end exclusive) on the clock of an IANA time
zone: "Monday to Friday, 08:00-20:00 Europe/Berlin". A due time outside it moves to the window's next opening;
the row waits in the ledger until then (DeliveryState.WAITING).

Local time is "at 09:00 on each recipient's clock": the zone is read from a contact field holding an IANA
name, with a default zone for contacts without one (or with a name that is not a zone). Each recipient's first
due time is the next 09:00 on their clock (on one of the window's days, when there is a window), and the
window, if any, is then read on the recipient's clock as well.

The rules take a due time and answer with the time a message may go out (`Timing.allowed`), so anything that
schedules mail (a campaign's launch and retries, a step of a sequence) asks the same question."""

import functools
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.i18n import gettext as _
from app.sending.schedule import DEFAULT_ZONE, zone_names

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
LOCAL_FIELDS = ("at", "zone_field", "default_zone")


class WindowInvalid(ValueError):
    """`field` names the setting at fault (send_window.days, local_time.at, ...)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def _clock(field: str, value: Any) -> time:
    match = CLOCK.match(str(value or ""))
    if match is None:
        raise WindowInvalid(
            field, _("%(value)s is not a time of day; write it as HH:MM, e.g. 08:00", value=repr(value))
        )
    return time(int(match[1]), int(match[2]))


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(zone_names())


def checked_zone(field: str, name: Any) -> str:
    """NAME if it is an IANA zone this machine knows; WindowInvalid naming FIELD otherwise."""
    if not isinstance(name, str) or name not in _known():
        raise WindowInvalid(field, _("%(zone)s is not a time zone; choose one such as Europe/Berlin", zone=name))
    return name


def _wall(zone_name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(zone_name)


def _at(day: date, clock: time, zone_name: str) -> datetime:
    """CLOCK on DAY in the zone, as UTC (a time the clocks skip reads an hour later; a repeated one is its first)."""
    return datetime.combine(day, clock, tzinfo=_wall(zone_name)).astimezone(UTC)


@dataclass(frozen=True)
class SendWindow:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time
    zone: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "SendWindow":
        days = raw.get("days")
        if not isinstance(days, list | tuple) or not days or any(d not in DAYS for d in days):
            raise WindowInvalid("send_window.days", _("choose one or more days of %(days)s", days=", ".join(DAYS)))
        start, end = _clock("send_window.start", raw.get("start")), _clock("send_window.end", raw.get("end"))
        if end <= start:
            raise WindowInvalid("send_window.end", _("must be later than the start"))
        zone = checked_zone("send_window.zone", raw.get("zone") or DEFAULT_ZONE)
        return cls(frozenset(DAYS.index(d) for d in days), start, end, zone)

    def stored(self) -> dict[str, Any]:
        return {
            "days": [DAYS[d] for d in sorted(self.days)],
            "start": f"{self.start:%H:%M}",
            "end": f"{self.end:%H:%M}",
            "zone": self.zone,
        }

    def in_zone(self, zone: str) -> "SendWindow":
        return SendWindow(self.days, self.start, self.end, zone)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(_wall(self.zone))
        return local.weekday() in self.days and self.start <= local.time().replace(tzinfo=None) < self.end

    def next_open(self, due: datetime) -> datetime:
        """DUE if the window is open then, else the window's next opening after it."""
        if self.is_open(due):
            return due
        local = due.astimezone(_wall(self.zone))
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            if day.weekday() in self.days:
                opening = _at(day, self.start, self.zone)
                if opening > due:
                    return opening
        raise AssertionError("a window has at least one day a week")  # pragma: no cover


@dataclass(frozen=True)
class LocalTime:
    at: time
    zone_field: str
    default_zone: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "LocalTime":
        field = str(raw.get("zone_field") or "").strip()
        if not field:
            raise WindowInvalid("local_time.zone_field", _("name the contact field that holds each time zone"))
        default = checked_zone("local_time.default_zone", raw.get("default_zone") or DEFAULT_ZONE)
        return cls(_clock("local_time.at", raw.get("at")), field, default)

    def stored(self) -> dict[str, Any]:
        return {"at": f"{self.at:%H:%M}", "zone_field": self.zone_field, "default_zone": self.default_zone}

    def zone_of(self, attributes: Mapping[str, Any] | None) -> str:
        """The recipient's zone: the field's value when it names a zone, else the default."""
        name = (attributes or {}).get(self.zone_field)
        return name if isinstance(name, str) and name in _known() else self.default_zone


@dataclass(frozen=True)
class Timing:
    """A campaign's (or a step's) rules for when its messages may go out; both parts optional."""

    window: SendWindow | None = None
    local: LocalTime | None = None

    @classmethod
    def of(cls, send_window: Mapping[str, Any] | None, local_time: Mapping[str, Any] | None) -> "Timing":
        """The stored settings, checked (WindowInvalid names the field at fault)."""
        window = SendWindow.parse(send_window) if send_window else None
        local = LocalTime.parse(local_time) if local_time else None
        if window and local and not (window.start <= local.at < window.end):
            raise WindowInvalid("local_time.at", _("must lie within the sending window's hours"))
        return cls(window, local)

    @property
    def constrained(self) -> bool:
        return self.window is not None or self.local is not None

    def window_for(self, attributes: Mapping[str, Any] | None) -> SendWindow | None:
        """The window on the recipient's clock (local time), else as it is."""
        if self.window is None or self.local is None:
            return self.window
        return self.window.in_zone(self.local.zone_of(attributes))

    def allowed(self, due: datetime, attributes: Mapping[str, Any] | None = None) -> datetime:
        """The first moment at or after DUE when a message to this recipient may go out (a retry's, or a later
        step's): the window's next opening, on the recipient's clock with local time."""
        window = self.window_for(attributes)
        return due if window is None else window.next_open(due)

    def open_for_all(self, now: datetime) -> bool:
        """Whether any row may go out now as far as one clock can tell: the window is open (without local
        time, where each recipient has a clock of their own, every row carries its own time)."""
        return self.local is not None or self.window is None or self.window.is_open(now)

    def first_due(self, after: datetime, zone: str | None = None) -> datetime:
        """When a recipient in ZONE (local time; the window's own zone otherwise) is first due, launched at AFTER."""
        if self.local is None:
            return self.allowed(after)
        where = zone or self.local.default_zone
        days = self.window.days if self.window else frozenset(range(7))
        local = after.astimezone(_wall(where))
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            if day.weekday() in days:
                due = _at(day, self.local.at, where)
                if due >= after:
                    return due
        raise AssertionError("a week has a day at that time")  # pragma: no cover

    def first_due_by_zone(self, after: datetime) -> dict[str, datetime]:
        """Local time: each known zone's first due time (a launch joins its recipients against these)."""
        return {z: self.first_due(after, z) for z in zone_names()}
