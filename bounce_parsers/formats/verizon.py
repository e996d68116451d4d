"""Verizon Wireless MMS gateway (vzwpix / vtext): "Message could not be delivered to mobile.",
an "Error:" line, and the returned message's "To:" as the recipient."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address

NAME = "verizon"
_TO = lazy(r"^[ \t]*To:[ \t]*(?:[^<\n]*<)?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$", IGNORECASE | MULTILINE)
_ERROR = lazy(r"^[ \t]*Error:[ \t]*(.+)$", IGNORECASE | MULTILINE)


def detect(rep: Report) -> bool:
    return "could not be delivered to mobile" in rep.text[:3000].lower()


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    pos = text.lower().find("original message:")
    m = _TO.search(text, pos if pos >= 0 else 0)
    addr = clean_address(m.group(1)) if m else ""
    err = _ERROR.search(text)
    diag = "Message could not be delivered to mobile. " + (err.group(1).strip() if err else "")
    reason = "userunknown" if "no valid recipients" in diag.lower() else ""
    return [Entry(recipient=addr, action="failed", diagnostic=diag.strip(), reason=reason)] if addr else []
