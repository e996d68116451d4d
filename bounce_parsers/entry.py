"""The mutable record a format parser fills in for each affected recipient."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Entry:
    recipient: str = ""
    status: str = ""  # enhanced status code as the report gave it
    reply: str = ""  # SMTP reply code as the report gave it
    diagnostic: str = ""  # the error text
    diagnostic_type: str = ""  # "SMTP", "X-UNIX", "X-POSTFIX", ... from Diagnostic-Code:
    action: str = ""  # failed | delayed | delivered | relayed | expanded
    remote_mta: str = ""
    command: str = ""  # SMTP command the error answered, when the format says so
    reason: str = ""  # a reason the format module already knows (e.g. from its own table)
    alias: str = ""  # Original-Recipient when it differs
    reporter: str = ""  # the MTA that wrote the report (Reporting-MTA), when known
