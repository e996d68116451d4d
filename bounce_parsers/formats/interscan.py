"""Trend Micro InterScan Messaging Security Suite (IMSS): "****** Message from InterScan
Messaging Security Suite ******", with the SMTP exchange as "Sent <<< RCPT TO:<a>" /
"Received >>> 550 ..." lines, or "Unable to deliver message to <a>"."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import bounce_like

NAME = "interscan"
_SENT = lazy(r"^[ \t]*Sent <<< ([A-Z]{4})[^<\n]*<([^<>\s@]{1,128}@[^<>\s@]{1,255})>", MULTILINE)
_RECEIVED = lazy(r"^[ \t]*Received >>> (.+)$", MULTILINE)
_UNABLE = lazy(r"Unable to deliver message to <([^<>\s@]{1,128}@[^<>\s@]{1,255})>([^\n]*)", IGNORECASE)


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    return "Message from InterScan Messaging Security Suite" in rep.text[:4000] or (
        "interscan" in rep.from_.lower() and bool(_SENT.search(rep.text[:4000]))
    )


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    out: list[Entry] = []
    for m in _SENT.finditer(text):
        addr = clean_address(m.group(2))
        if not addr:
            continue
        r = _RECEIVED.search(text, m.end())
        out.append(
            Entry(recipient=addr, action="failed", command=m.group(1), diagnostic=r.group(1).strip() if r else "")
        )
    if not out:
        for m in _UNABLE.finditer(text):
            addr = clean_address(m.group(1))
            if addr:
                # IMSS's own summary when the remote answer is not quoted: it gives up on the
                # recipient (sisimai reads it as an unknown recipient too)
                out.append(Entry(recipient=addr, action="failed", diagnostic=m.group(0).strip(), reason="userunknown"))
    return out
