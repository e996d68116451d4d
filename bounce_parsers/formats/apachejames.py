"""Apache James: "Error message below:" with the SMTP error, then "Message details:" listing
"RCPT TO: address"."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import DOTALL, IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address

NAME = "apachejames"
_RCPT = lazy(r"^[ \t]*RCPT TO:[ \t]*<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$", IGNORECASE | MULTILINE)
_ERROR = lazy(
    r"^[ \t]*Error message below:[ \t]*\n(.*?)(?:\n[ \t]*\n|\n[ \t]*Message details:)", IGNORECASE | MULTILINE | DOTALL
)


def detect(rep: Report) -> bool:
    head = rep.text[:4000]
    return "Error message below:" in head and "Message details:" in head


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    err = _ERROR.search(text)
    diag = " ".join(err.group(1).split()) if err else ""
    first = text.strip().split("\n", 1)[0].strip()
    if first.lower().startswith("error:"):
        diag = (first[6:].strip() + ". " + diag).strip()
    out = []
    for m in _RCPT.finditer(text):
        addr = clean_address(m.group(1))
        if addr:
            out.append(Entry(recipient=addr, action="failed", diagnostic=diag, command="RCPT"))
    return out
