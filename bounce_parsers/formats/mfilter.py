"""m-FILTER (Digital Arts): the failed address, then "-------server message" with the
remote answer and "-------SMTP command" with the command it answered."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import bounce_like

NAME = "mfilter"
_SERVER = lazy(r"^-{3,}[ \t]*server message[ \t]*$", IGNORECASE | MULTILINE)
_COMMAND = lazy(r"^-{3,}[ \t]*SMTP command[ \t]*\n[ \t]*([A-Za-z]{4})", IGNORECASE | MULTILINE)
_STOP = lazy(r"^-{3,}", MULTILINE)
_ADDR = lazy(r"^[ \t]*<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$", MULTILINE)


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    return "m-filter" in rep.mail.header("x-mailer").lower() or (
        "-------server message" in rep.text[:4000] and "-------SMTP command" in rep.text[:4000]
    )


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    srv = _SERVER.search(text)
    if not srv:
        return []
    rest = text[srv.end() :]
    e = _STOP.search(rest)
    diag = " ".join((rest[: e.start()] if e else rest[:1000]).split())
    cm = _COMMAND.search(text)
    command = cm.group(1).upper() if cm else ""
    out = []
    for m in _ADDR.finditer(text, 0, srv.start()):
        addr = clean_address(m.group(1))
        if addr:
            out.append(Entry(recipient=addr, action="failed", diagnostic=diag, command=command))
    return out
