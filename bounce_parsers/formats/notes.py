"""Lotus Notes (the SMTP MTA of Notes/Domino R4/R5): "------- Failure Reasons --------",
the reason, the address, then "------- Returned Message --------"."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import ADDRESS, Report, clean_address
from ._base import Table, bounce_like, returned_to, table_reason

NAME = "notes"
TABLE: Table = (
    ("userunknown", ("user not listed in public name & address book", "not listed in domino directory")),
    ("networkerror", ("message has exceeded maximum hop count", "maximum hop count exceeded")),
)
_START = lazy(r"^[ \t]*-{3,}[ \t]*Failure Reasons[ \t]*-{3,}[ \t]*$", IGNORECASE | MULTILINE)
_STOP = lazy(r"^[ \t]*-{3,}[ \t]*Returned Message[ \t]*-{3,}", IGNORECASE | MULTILINE)


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    return "Failure Reasons" in rep.text[:4000] and bool(_START.search(rep.text[:4000]))


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    m = _START.search(text)
    if not m:
        return []
    rest = text[m.end() :]
    stop = _STOP.search(rest)
    rest = rest[: stop.start()] if stop else rest[:2000]
    entries: list[Entry] = []
    reasons: list[str] = []
    for line in rest.split("\n"):
        s = line.strip()
        if not s:
            continue
        am = ADDRESS.fullmatch(s.strip("<>"))
        if am:
            addr = clean_address(am.group(0))
            if addr:
                entries.append(Entry(recipient=addr, action="failed", diagnostic=" ".join(reasons)))
                reasons = []
                continue
        reasons.append(s)
    if not entries:
        addr = returned_to(rep)
        entries = [Entry(recipient=addr, action="failed", diagnostic=" ".join(reasons))] if addr else []
    elif reasons and not entries[-1].diagnostic:
        entries[-1].diagnostic = " ".join(reasons)
    for e in entries:
        e.reason = table_reason(e.diagnostic, TABLE)
    return entries
