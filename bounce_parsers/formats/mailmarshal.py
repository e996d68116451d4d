"""Trustwave MailMarshal SMTP: "Your message: From: ... Subject: ...", "Could not be
delivered because of" and the error, then "The following recipients were affected:"."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import bounce_like

NAME = "mailmarshal"
_BECAUSE = lazy(r"^[ \t]*Could not be delivered because of[ \t]*$", IGNORECASE | MULTILINE)
_AFFECTED = lazy(r"^[ \t]*The following recipients were affected:[ \t]*$", IGNORECASE | MULTILINE)
_ADDR = lazy(r"^[ \t]*<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$")


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    head = rep.text[:5000]
    return "The following recipients were affected:" in head and bool(_AFFECTED.search(head))


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    a = _AFFECTED.search(text)
    if not a:
        return []
    b = _BECAUSE.search(text, 0, a.start())
    diag = " ".join(text[b.end() : a.start()].split()) if b else ""
    out: list[Entry] = []
    for line in text[a.end() :].lstrip("\n").split("\n"):
        m = _ADDR.match(line)
        addr = clean_address(m.group(1)) if m else ""
        if not addr:
            break
        out.append(Entry(recipient=addr, action="failed", diagnostic=diag))
    return out
