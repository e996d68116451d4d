"""Microsoft Exchange 2000/2003 NDRs: "did not reach the following recipient(s):", then
"address on date" and the error with an MSEXCH code."""

from __future__ import annotations

import re

from ..entry import Entry
from ..report import Report
from ._base import Table, blocks, table_reason

NAME = "exchange2003"
_ADDR_LINE = re.compile(r"^[ \t]*<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]+on[ \t]+")
_STOP = re.compile(r"^[ \t]*(?:The MTS-ID of the original message|Message-ID:|-{3,})", re.I)
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
        "MSEXCH" in rep.text or "Undeliverable" in rep.subject or "X-MS-" in str(rep.mail.headers.keys()).upper()
        or bool(_ADDR_LINE.search(head)) or bool(re.search(r"^[ \t]*[^\s@]{1,128}@[^\s@]{1,255}[ \t]+on[ \t]", head, re.M)))


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    start = text.find("did not reach the following recipient")
    entries = blocks(text[start:], _ADDR_LINE, _STOP) if start >= 0 else []
    for e in entries:
        e.reason = table_reason(e.diagnostic, TABLE)
    return entries
