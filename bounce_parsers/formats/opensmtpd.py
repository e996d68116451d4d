"""OpenSMTPD: "This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail." then
"the following list of recipients:" and one "address: error" line each."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import bounce_like

NAME = "opensmtpd"
_START = lazy(r"(?:following list of recipients|to the following recipients?)[^\n]*:[ \t]*\n", IGNORECASE)
_STOP = lazy(r"^[ \t]*(?:Below is a copy of the original message|-{3,})", IGNORECASE | MULTILINE)
_LINE = lazy(r"^[ \t]*<?([^<>\s:@]{1,128}@[^<>\s:@]{1,255}?)>?:[ \t]*(.*)$")


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    head = rep.text[:3000]
    return "This is the MAILER-DAEMON, please DO NOT REPLY" in head or (
        "An error has occurred while attempting to deliver a message" in head
    )


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    m = _START.search(text)
    if not m:
        return []
    rest = text[m.end() :]
    e = _STOP.search(rest)
    rest = rest[: e.start()] if e else rest
    entries: list[Entry] = []
    delayed = "delayed" in rep.subject.lower() or "temporary" in text[: m.start()].lower()
    for line in rest.split("\n"):
        lm = _LINE.match(line)
        if lm and clean_address(lm.group(1)):
            entries.append(
                Entry(
                    recipient=clean_address(lm.group(1)),
                    diagnostic=lm.group(2).strip(),
                    action="delayed" if delayed else "failed",
                )
            )
        elif entries and line.strip():
            entries[-1].diagnostic = (entries[-1].diagnostic + " " + line.strip()).strip()
    for ent in entries:
        if ent.diagnostic.lower().startswith(("envelope expired", "message expired")):
            ent.reason = "expired"
    return entries
