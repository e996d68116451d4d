"""Postfix's plain-text notification when no delivery-status part names a recipient:
"This is the mail system at host ..." (older: "This is the Postfix program at host"),
then one "<address>: error" paragraph per recipient. Also the SMTP server's error report
("Postfix SMTP server: errors from ...", a transcript of " In:" / " Out:" lines)."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address, local_part
from ._base import blocks, bounce_like, dsn_has_recipient, returned_to

NAME = "postfix"
_ADDR_LINE = lazy(
    r"^[ \t]*<(" + local_part(r"[^<>\s@]{1,128}") + r"@[^<>\s@]{1,255})>"
    r"(?:[ \t]*\(expanded from <[^<>]*>\))?:?"
)
_FIRST = lazy(r"^[ \t]*<" + local_part(r"[^<>\s@]{1,128}") + r"@[^<>\s@]{1,255}>", MULTILINE)
_STOP = lazy(r"^[ \t]*(?:-{3,}|Content-|Reporting-MTA:|Final-Recipient:)|^[A-Za-z-]+: ", IGNORECASE)
_UNAVAILABLE = lazy(r"^[ \t]*--- Delivery report unavailable ---", MULTILINE)
_COMMAND = lazy(r"\bin reply to (?:end of )?([A-Z]{4})\b|\bafter (?:end of )?([A-Z]{4})\b")


_IN = lazy(r"^[ \t]*In:[ \t]+([A-Za-z]{4})\b(.*)$")
_OUT = lazy(r"^[ \t]*Out:[ \t]+([245]\d\d[ -].*)$")
_RCPT = lazy(r"TO:[ \t]*<([^<>\s@]{1,128}@[^<>\s@]{1,255})>", IGNORECASE)


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    head = rep.text[:3000]
    if rep.subject.startswith("Postfix SMTP server: errors from") and "Transcript of session follows" in head:
        return True
    return (
        "This is the mail system at host" in head or "This is the Postfix program at host" in head
    ) and not dsn_has_recipient(rep)


def _transcript(text: str) -> list[Entry]:
    """Recipients of RCPT lines; the first 4xx/5xx answer after them is the error."""
    entries: list[Entry] = []
    command = ""
    for line in text.split("\n"):
        m = _IN.match(line)
        if m:
            command = m.group(1).upper()
            r = _RCPT.search(m.group(2)) if command == "RCPT" else None
            if r and clean_address(r.group(1)):
                entries.append(Entry(recipient=clean_address(r.group(1)), action="failed"))
            continue
        o = _OUT.match(line)
        if o and o.group(1)[0] in "45" and entries and not entries[-1].diagnostic:
            for e in entries:
                if not e.diagnostic:
                    e.diagnostic, e.command = o.group(1).strip(), command
    return [e for e in entries if e.diagnostic]


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    if rep.subject.startswith("Postfix SMTP server: errors from"):
        return _transcript(text)
    first = _FIRST.search(text)
    entries = blocks(text[first.start() :], _ADDR_LINE, _STOP) if first else []
    if not entries and _UNAVAILABLE.search(text):
        # bounce(8) could not read its log: no recipient block, only the returned message
        addr = returned_to(rep)
        entries = [Entry(recipient=addr, action="failed", diagnostic="Delivery report unavailable")] if addr else []
    delayed = "delayed mail" in rep.subject.lower() or "delayed" in rep.subject.lower()
    for e in entries:
        m = _COMMAND.search(e.diagnostic)
        if m:
            e.command = m.group(1) or m.group(2)
        if delayed:
            e.action = "delayed"
    return entries
