"""Helpers shared by the plain-text format modules."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import ADDRESS, Report, clean_address
from ..textscan import looks_like_bounce

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

Table = tuple[tuple[str, tuple[str, ...]], ...]


def table_reason(text: str, table: Table) -> str:
    """The first reason of a format's own table whose phrase the text contains."""
    low = " ".join(text.lower().split())
    for reason, phrases in table:
        for phrase in phrases:
            if phrase in low:
                return reason
    return ""


def blocks(text: str, address_line: re.Pattern[str], stop: re.Pattern[str] | None = None) -> list[Entry]:
    """Recipients that start a line (matched by `address_line`, group 1 = address) and
    the lines that follow each of them, up to the next one or `stop`."""
    entries: list[Entry] = []
    cur: Entry | None = None
    for line in text.split("\n"):
        if stop is not None and stop.search(line):
            break
        m = address_line.match(line)
        if m:
            addr = clean_address(m.group(1))
            if addr and cur is not None and addr.lower() == cur.recipient.lower():
                # the error text quoting the same address ("<a>: User unknown") continues it
                cur.diagnostic = (cur.diagnostic + " " + line.strip()).strip()
                continue
            if addr:
                cur = Entry(recipient=addr, action="failed", diagnostic=line[m.end() :].strip())
                entries.append(cur)
                continue
        if cur is not None and line.strip():
            cur.diagnostic = (cur.diagnostic + " " + line.strip()).strip()
    return entries


def body_has(rep: Report, *needles: str) -> bool:
    head = rep.text[:4000]
    return any(n in head for n in needles)


_VALID_FINAL = lazy(
    r"^[ \t]*(?:final|original)-recipient[ \t]*:[^\n;]{0,40};?[ \t]*<?[^@\s<>;]{1,128}@[A-Za-z0-9]",
    IGNORECASE | MULTILINE,
)


def dsn_has_recipient(rep: Report) -> bool:
    """Does an RFC 3464 part (or DSN fields inlined in the text) name a usable recipient?
    Then the DSN parser is the better reader."""
    if rep.has_ds and _VALID_FINAL.search(rep.ds):
        return True
    return "ecipient:" in rep.text and bool(_VALID_FINAL.search(rep.text, 0, 30000))


def returned_to(rep: Report) -> str:
    """The addressee of the returned original, when the bounce names nobody else."""
    for value in rep.returned_headers().get("to", [])[:1]:
        m = ADDRESS.search(value)
        if m:
            return clean_address(m.group(0))
    return ""


def bounce_like(rep: Report) -> bool:
    """A daemon's sender or subject, or an automatic message with a null return path:
    generic layouts are only trusted in mail that looks machine-sent."""
    if rep.machine_sent is None:
        rep.machine_sent = (
            looks_like_bounce(rep)
            or rep.mail.header("auto-submitted").lower().startswith("auto-")
            or rep.mail.header("return-path").strip() in ("<>", "")
        )
    return rep.machine_sent
