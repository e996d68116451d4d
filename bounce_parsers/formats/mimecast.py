"""Mimecast's own delivery-failure alert: "This is an automated alert notification.",
"An email that you attempted to send to the following address could not be delivered:",
then "-- address", "The problem appears to be :" "-- summary" and "Additional information
follows :" "-- the remote server's answer"."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import Table, bounce_like, table_reason

NAME = "mimecast"
_ADDRESS = lazy(r"following address(?:es)? could not be delivered:?[ \t]*\n((?:[ \t]*--[^\n]*\n?)+)", IGNORECASE)
_PROBLEM = lazy(r"The problem appears to be\s*:\s*\n((?:[ \t]*--[^\n]*\n?)+)", IGNORECASE)
_MORE = lazy(r"Additional information follows\s*:\s*\n((?:[ \t]*--[^\n]*\n?(?:[ \t]*[^\s-][^\n]*\n?)?)+)", IGNORECASE)
_ITEM = lazy(r"^[ \t]*--[ \t]*<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$", MULTILINE)
# Mimecast's summaries ("The problem appears to be")
TABLE: Table = (
    ("userunknown", ("recipient email address is possibly incorrect",)),
    ("mailboxfull", ("recipient's mailbox is full", "mailbox is full")),
    ("mesgtoobig", ("message is too large",)),
)


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    head = rep.text[:3000]
    return "The problem appears to be" in head and "could not be delivered" in head and "--" in head


def _items(block: str) -> str:
    return " ".join(line.strip().lstrip("-").strip() for line in block.split("\n") if line.strip())


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    a = _ADDRESS.search(text)
    if not a:
        return []
    p = _PROBLEM.search(text, a.end())
    more = _MORE.search(text, a.end())
    problem = _items(p.group(1)) if p else ""
    detail = _items(more.group(1)) if more else ""
    diag = (problem + " " + detail).strip()
    out: list[Entry] = []
    for m in _ITEM.finditer(a.group(1)):
        addr = clean_address(m.group(1))
        if addr:
            out.append(Entry(recipient=addr, action="failed", diagnostic=diag, reason=table_reason(problem, TABLE)))
    return out
