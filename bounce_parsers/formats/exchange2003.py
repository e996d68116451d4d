"""Microsoft Exchange 2000/2003 NDRs: "did not reach the following recipient(s):", then
"address on date" and the error with an MSEXCH code."""

from __future__ import annotations

import re

from ..entry import Entry
from ..patterns import lazy
from ..report import Report, clean_address
from ._base import Table, blocks, table_reason

NAME = "exchange2003"
# "addr on DATE" per recipient; Exchange 5.5 may give the X.400 O/R address whose
# domain-defined attribute carries the SMTP one: "c=US;a= ;p=Org;o=Site;dda:SMTP=addr; on DATE"
_ADDR_LINE = lazy(
    r"^[ \t]*(?:c=[^\n]{0,300}?\b(?:dda|DDA):(?:SMTP|RFC-822)=)?"
    r"<?([^<>\s@;]{1,128}@[^<>\s@;]{1,255}?)>?;?[ \t]+on[ \t]+"
)
# every recipient's block repeats the MTS-ID line, so only the end of the report stops the list
_STOP = lazy(r"^[ \t]*(?:Message-ID:|-{3,})", re.I)
_MTS_ID = lazy(r"^[ \t]*The MTS-ID of the original message is:[^\n]*\n?", re.I | re.M)
TABLE: Table = (
    ("userunknown", ("000c05a6", "the recipient name is not recognized", "unknown recipient")),
    ("filtered", ("000c0595", "ambiguous recipient")),
    ("systemerror", ("00010256", "000d06b5")),
    ("securityerror", ("00010255",)),
    ("onhold", ("000b099c", "000b09aa")),
    ("mesgtoobig", ("000d06b3", "message exceeds size limit")),
)


def detect(rep: Report) -> bool:
    head = rep.text[:3000]
    return "did not reach the following recipient" in head and (
        "MSEXCH" in rep.text
        or "Undeliverable" in rep.subject
        or "X-MS-" in str(rep.mail.headers.keys()).upper()
        or bool(re.search(r"^[ \t]*\S{1,300}@[^\s@]{1,255}[ \t]+on[ \t]", head, re.M))
    )


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    start = text.find("did not reach the following recipient")
    listed = _MTS_ID.sub("", text[start:]) if start >= 0 else ""
    entries = blocks(listed, _ADDR_LINE, _STOP) if listed else []
    if not entries and listed:
        entries = _by_display_name(rep, listed)
    for e in entries:
        e.reason = table_reason(e.diagnostic, TABLE)
    return entries


# "'Jane Roe' on 3/1/2004 10:00 AM": the report names the recipient as the sender addressed them
_NAME_LINE = lazy(r"^[ \t]*'?([^\s@'<>;][^@\n'<>;]{0,79}?)'?[ \t]+on[ \t]+(?:[A-Z][a-z]{2}, |\d)")
_NAMED = lazy(r'"?([^",<>]{1,80}?)"?\s*<([^<>\s@]{1,128}@[^<>\s@]{1,255})>')


def _by_display_name(rep: Report, listed: str) -> list[Entry]:
    """Recipients listed by display name only: the returned original's To/Cc say who they are."""
    names: dict[str, str] = {}
    head = rep.returned_headers()
    for value in head.get("to", []) + head.get("cc", []):
        for m in _NAMED.finditer(value):
            names.setdefault(" ".join(m.group(1).split()).strip("'").lower(), clean_address(m.group(2)))
    if not names:
        return []
    lines = [ln for ln in listed.split("\n") if not _STOP.search(ln)]
    marks = [
        (i, names.get(" ".join(line.group(1).split()).lower(), ""))
        for i, ln in enumerate(lines)
        if (line := _NAME_LINE.match(ln))
    ]
    entries: list[Entry] = []
    for k, (i, addr) in enumerate(marks):
        if addr:
            end = marks[k + 1][0] if k + 1 < len(marks) else len(lines)
            entries.append(Entry(recipient=addr, action="failed", diagnostic=" ".join(" ".join(lines[i:end]).split())))
    return entries
