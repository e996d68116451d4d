"""IBM/HCL Domino: "Your message ... was not delivered to: <address> because: <reason>"."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import Table, bounce_like, dsn_has_recipient, table_reason

NAME = "domino"
# Domino's own wordings (English, Spanish, Japanese releases)
TABLE: Table = (
    (
        "userunknown",
        (
            "not listed in domino directory",
            "not listed in public name & address book",
            "no se encuentra en el directorio de domino",
            "domino ディレクトリには見つかりません",
        ),
    ),
    ("filtered", ("cannot route mail to user",)),
    ("systemerror", ("several matches found in domino directory",)),
    ("networkerror", ("maximum hop count exceeded",)),
)
_NOT_DELIVERED = lazy(r"^[ \t]*was not delivered to:[ \t]*$", IGNORECASE | MULTILINE)
_BECAUSE = lazy(r"^[ \t]*because:[ \t]*$", IGNORECASE | MULTILINE)
_ADDR = lazy(r"<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$")
_END = lazy(r"^[ \t]*(?:-{3,}|Your message)|\n[ \t]*\n", IGNORECASE | MULTILINE)


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    head = rep.text[:4000]
    return "delivered to:" in head and bool(_NOT_DELIVERED.search(head)) and not dsn_has_recipient(rep)


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    entries: list[Entry] = []
    for m in _NOT_DELIVERED.finditer(text):
        rest = text[m.end() :]
        b = _BECAUSE.search(rest)
        listed = rest[: b.start()] if b else rest[:500]
        reason = ""
        if b:
            tail = rest[b.end() :].lstrip("\n")
            e = _END.search(tail)
            reason = " ".join((tail[: e.start()] if e else tail[:1000]).split())
        for line in listed.split("\n"):
            am = _ADDR.search(line.strip())
            addr = clean_address(am.group(1)) if am else ""
            if addr:
                entries.append(
                    Entry(recipient=addr, action="failed", diagnostic=reason, reason=table_reason(reason, TABLE))
                )
    return entries
