"""KDDI / au one net (and other Japanese carrier gateways that copy it): "Your mail sent on:
<date>", "Could not be delivered to: <address>", then the reason on the next line."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address

NAME = "kddi"
_LINE = lazy(
    r"^[ \t]*Could not be delivered to:[ \t]*<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$", IGNORECASE | MULTILINE
)


def detect(rep: Report) -> bool:
    return "Could not be delivered to:" in rep.text[:5000] and bool(_LINE.search(rep.text[:5000]))


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    entries: list[Entry] = []
    for m in _LINE.finditer(text):
        addr = clean_address(m.group(1))
        if not addr:
            continue
        after = []
        for line in text[m.end() :].lstrip("\n").split("\n"):
            if not line.strip() or _LINE.match(line):
                break
            after.append(line.strip())
        entries.append(Entry(recipient=addr, action="failed", diagnostic=" ".join(after)))
    return entries
