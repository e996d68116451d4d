"""Helpers shared by the plain-text format modules."""

from __future__ import annotations

import re

from ..entry import Entry
from ..report import Report, clean_address

Table = tuple[tuple[str, tuple[str, ...]], ...]


def table_reason(text: str, table: Table) -> str:
    """The first reason of a format's own table whose phrase the text contains."""
    low = text.lower()
    for reason, phrases in table:
        for phrase in phrases:
            if phrase in low:
                return reason
    return ""


def blocks(text: str, address_line: re.Pattern[str], stop: re.Pattern[str] | None = None) -> list[Entry]:
    """Recipients that start a line (matched by `address_line`, group 1 = address) and
    the lines that follow each of them, up to the next one or `stop`."""
    entries: list[Entry] = []
    cur: Entry | None = None
    for line in text.split("\n"):
        if stop is not None and stop.search(line):
            break
        m = address_line.match(line)
        if m:
            addr = clean_address(m.group(1))
            if addr:
                cur = Entry(recipient=addr, action="failed", diagnostic=line[m.end() :].strip())
                entries.append(cur)
                continue
        if cur is not None and line.strip():
            cur.diagnostic = (cur.diagnostic + " " + line.strip()).strip()
    return entries


def body_has(rep: Report, *needles: str) -> bool:
    head = rep.text[:4000]
    return any(n in head for n in needles)
