"""Ipswitch IMail Server (SMTP32): one "reason: address" line per recipient, then
"Original message follows.". Its own reasons map through a small table. Older releases
write only "undeliverable to ADDR" (and the remote answer after "Body of message generated
response:"), with or without their X-Mailer header."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import Table, bounce_like, table_reason

NAME = "imailserver"
_LINE = lazy(r"^[ \t]*([A-Za-z][A-Za-z ]{3,60}):[ \t]*<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$", MULTILINE)
_STOP = lazy(r"^[ \t]*Original message follows\.", IGNORECASE | MULTILINE)
TABLE: Table = (
    ("userunknown", ("unknown user", "invalid final delivery userid", "no such user")),
    ("mailboxfull", ("user mailbox exceeds allowed size", "mailbox full")),
    ("hostunknown", ("host unknown", "unknown host")),
    ("expired", ("delivery failed after", "message could not be delivered for")),
)


# the short form: "undeliverable to ADDR" per recipient, no reason line; what the remote
# server answered, if anything, follows "Body of message generated response:"
_SHORT = lazy(r"^[ \t]*undeliverable to[ \t]+<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$", IGNORECASE | MULTILINE)
_RESPONSE = lazy(r"^[ \t]*Body of message generated response:[ \t]*$", IGNORECASE | MULTILINE)


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    mailer = rep.mail.header("x-mailer").lower()
    if "smtp32" in mailer or "imail" in mailer:
        return True
    head = rep.text[:3000]
    return bool(_SHORT.search(head) and (_STOP.search(head) or _RESPONSE.search(head)))


def _short(head: str) -> list[Entry]:
    r = _RESPONSE.search(head)
    response = " ".join(head[r.end() :].split()) if r else ""
    out = []
    for m in _SHORT.finditer(head):
        addr = clean_address(m.group(1))
        if addr:
            out.append(Entry(recipient=addr, action="failed", diagnostic=response or m.group(0).strip()))
    return out


def parse(rep: Report) -> list[Entry]:
    """Both forms, in one report too: "Unknown user: ADDR" for one recipient beside "undeliverable to
    ADDR" for another."""
    text = rep.text
    e = _STOP.search(text)
    head = text[: e.start()] if e else text[:3000]
    out = _short(head) if _SHORT.search(head) else []
    listed = {x.recipient.lower() for x in out}
    for m in _LINE.finditer(head):
        addr = clean_address(m.group(2))
        if addr and addr.lower() not in listed:
            rest = head[m.end() :].strip().split("\n\n", 1)[0]
            diag = (m.group(1) + ": " + addr + " " + rest).strip()
            out.append(Entry(recipient=addr, action="failed", diagnostic=diag, reason=table_reason(m.group(1), TABLE)))
    return out
