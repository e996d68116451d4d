"""MailFoundry: "Unable to deliver message to: <address>", then "Delivery failed for the
following reason:" and the remote server's answer ("Server mx[ip] failed with: 550 ...")."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import bounce_like

NAME = "mailfoundry"
_TO = lazy(
    r"^[ \t]*Unable to deliver message to:[ \t]*<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$", IGNORECASE | MULTILINE
)
_REASON = lazy(r"^[ \t]*Delivery failed for the following reason:[ \t]*$", IGNORECASE | MULTILINE)
_COMMAND = lazy(r"\bafter ([A-Z]{4})\b|\bin reply to ([A-Z]{4})\b")


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    head = rep.text[:3000]
    return "Unable to deliver message to:" in head and "Delivery failed for the following reason:" in head


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    out: list[Entry] = []
    marks = list(_TO.finditer(text))
    for i, m in enumerate(marks):
        addr = clean_address(m.group(1))
        if not addr:
            continue
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        r = _REASON.search(text, m.end(), end)
        diag = ""
        if r:
            para = text[r.end() : end].lstrip("\n").split("\n\n", 1)[0]
            diag = " ".join(para.split())
        cm = _COMMAND.search(diag)
        out.append(
            Entry(recipient=addr, action="failed", diagnostic=diag, command=(cm.group(1) or cm.group(2)) if cm else "")
        )
    return out
