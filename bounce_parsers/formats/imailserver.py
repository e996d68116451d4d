"""Ipswitch IMail Server (SMTP32): one "reason: address" line per recipient, then
"Original message follows.". Its own reasons map through a small table."""

from __future__ import annotations

import re

from ..entry import Entry
from ..report import Report, clean_address
from ._base import Table, bounce_like, table_reason

NAME = "imailserver"
_LINE = re.compile(r"^[ \t]*([A-Za-z][A-Za-z ]{3,60}):[ \t]*<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$", re.M)
_STOP = re.compile(r"^[ \t]*Original message follows\.", re.I | re.M)
TABLE: Table = (
    ("userunknown", ("unknown user", "invalid final delivery userid", "no such user")),
    ("mailboxfull", ("user mailbox exceeds allowed size", "mailbox full")),
    ("hostunknown", ("host unknown", "unknown host")),
    ("expired", ("delivery failed after", "message could not be delivered for")),
)


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    return "smtp32" in rep.mail.header("x-mailer").lower() or "imail" in rep.mail.header("x-mailer").lower()


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    e = _STOP.search(text)
    head = text[: e.start()] if e else text[:3000]
    out = []
    for m in _LINE.finditer(head):
        addr = clean_address(m.group(2))
        if addr:
            rest = head[m.end() :].strip().split("\n\n", 1)[0]
            diag = (m.group(1) + ": " + addr + " " + rest).strip()
            out.append(Entry(recipient=addr, action="failed", diagnostic=diag,
                             reason=table_reason(m.group(1), TABLE)))
    return out
