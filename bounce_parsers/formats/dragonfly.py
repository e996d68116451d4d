"""DragonFly Mail Agent (dma): "This is the DragonFly Mail Agent ... There was an error
delivering your mail to <address>." followed by the remote answer or dma's own reason."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import bounce_like

NAME = "dragonfly"
_TO = lazy(r"There was an error delivering your mail to <([^<>\s@]{1,128}@[^<>\s@]{1,255})>\.?", IGNORECASE)
_STOP = lazy(r"^[ \t]*(?:Message headers follow|Original message follows|-{3,})", IGNORECASE | MULTILINE)
_COMMAND = lazy(r"did not like our (?:final )?([A-Z]{4})")


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    head = rep.text[:2000]
    return "DragonFly Mail Agent" in head or "error delivering your mail to <" in head


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    out = []
    for m in _TO.finditer(text):
        addr = clean_address(m.group(1))
        if not addr:
            continue
        rest = text[m.end() :]
        e = _STOP.search(rest)
        diag = " ".join((rest[: e.start()] if e else rest[:2000]).split())
        cm = _COMMAND.search(diag)
        low = diag.lower()
        reason = "expired" if "could not deliver for the last" in low or "giving up" in low else ""
        out.append(
            Entry(recipient=addr, action="failed", diagnostic=diag, reason=reason, command=cm.group(1) if cm else "")
        )
    return out
