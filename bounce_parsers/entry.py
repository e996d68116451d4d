"""The mutable record a format parser fills in for each affected recipient."""

from __future__ import annotations

_FIELDS = (
    "recipient",
    "status",
    "reply",
    "diagnostic",
    "diagnostic_type",
    "action",
    "remote_mta",
    "command",
    "reason",
    "alias",
    "reporter",
    "gateway",
)


class Entry:
    # A plain slotted class, not a dataclass: importing dataclasses and building the class
    # cost ~8 ms of every process start.
    __slots__ = _FIELDS

    def __init__(
        self,
        recipient: str = "",
        status: str = "",  # enhanced status code as the report gave it
        reply: str = "",  # SMTP reply code as the report gave it
        diagnostic: str = "",  # the error text
        diagnostic_type: str = "",  # "SMTP", "X-UNIX", "X-POSTFIX", ... from Diagnostic-Code:
        action: str = "",  # failed | delayed | delivered | relayed | expanded
        remote_mta: str = "",
        command: str = "",  # SMTP command the error answered, when the format says so
        reason: str = "",  # a reason the format module already knows (e.g. from its own table)
        alias: str = "",  # Original-Recipient when it differs
        reporter: str = "",  # the MTA that wrote the report (Reporting-MTA), when known
        gateway: bool = False,  # the report comes from a content-filtering gateway (gateway.py)
    ) -> None:
        self.recipient = recipient
        self.status = status
        self.reply = reply
        self.diagnostic = diagnostic
        self.diagnostic_type = diagnostic_type
        self.action = action
        self.remote_mta = remote_mta
        self.command = command
        self.reason = reason
        self.alias = alias
        self.reporter = reporter
        self.gateway = gateway

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __eq__(self, other: object) -> bool:
        return self._values() == other._values() if isinstance(other, Entry) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return "Entry(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS) + ")"
