"""Microsoft Exchange 2000/2003 NDRs: "did not reach the following recipient(s):" (Exchange 2000 with
IIS SMTP: "The following recipient(s) could not be reached:"), then "address on date" and the error
with an MSEXCH code or an "<host #5.x.x>" status."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import Table, table_reason

NAME = "exchange2003"
# "addr on DATE" per recipient; Exchange 5.5 may give the X.400 O/R address whose
# domain-defined attribute carries the SMTP one: "c=US;a= ;p=Org;o=Site;dda:SMTP=addr; on DATE"
_ADDR_LINE = lazy(
    r"^[ \t]*(?:c=[^\n]{0,300}?\b(?:dda|DDA):(?:SMTP|RFC-822)=)?"
    r"<?([^<>\s@;]{1,128}@[^<>\s@;]{1,255}?)>?;?[ \t]+on[ \t]+"
)
# every recipient's block repeats the MTS-ID line, so only the end of the report stops the list
_STOP = lazy(r"^[ \t]*(?:Message-ID:|-{3,})", IGNORECASE)
_MTS_ID = lazy(r"^[ \t]*The MTS-ID of the original message is:[^\n]*\n?", IGNORECASE | MULTILINE)
_ADDRESS_ON = lazy(r"^[ \t]*\S{1,300}@[^\s@]{1,255}[ \t]+on[ \t]", MULTILINE)
TABLE: Table = (
    ("userunknown", ("000c05a6", "the recipient name is not recognized", "unknown recipient")),
    ("filtered", ("000c0595", "ambiguous recipient")),
    ("systemerror", ("00010256", "000d06b5")),
    ("securityerror", ("00010255",)),
    ("onhold", ("000b099c", "000b09aa")),
    ("mesgtoobig", ("000d06b3", "message exceeds size limit")),
)


# where the list of recipients starts, in the wordings Exchange used
_LIST_START = lazy(r"did not reach the following recipient|following recipient\(s\) could not be reached")


def detect(rep: Report) -> bool:
    head = rep.text[:3000]
    return bool(_LIST_START.search(head)) and (
        "MSEXCH" in rep.text
        or "Undeliverable" in rep.subject
        or "X-MS-" in str(rep.mail.headers.keys()).upper()
        or bool(_ADDRESS_ON.search(head))
    )


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    start = _LIST_START.search(text)
    listed = _MTS_ID.sub("", text[start.start() :]) if start else ""
    entries = _recipient_blocks(listed, _display_names(rep)) if listed else []
    for e in entries:
        e.reason = table_reason(e.diagnostic, TABLE)
    return entries


# "'Jane Roe' on 3/1/2004 10:00 AM": the report names the recipient as the sender addressed them
_NAME_LINE = lazy(r"^[ \t]*'?([^\s@'<>;][^@\n'<>;]{0,79}?)'?[ \t]+on[ \t]+(?:[A-Z][a-z]{2}, |\d)")
_NAMED = lazy(r'"?([^",<>]{1,80}?)"?\s*<([^<>\s@]{1,128}@[^<>\s@]{1,255})>')


def _display_names(rep: Report) -> dict[str, str]:
    """Display name (folded) to address, from the returned original's To and Cc."""
    names: dict[str, str] = {}
    head = rep.returned_headers()
    for value in head.get("to", []) + head.get("cc", []):
        for m in _NAMED.finditer(value):
            names.setdefault(_fold(m.group(1)), clean_address(m.group(2)))
    return names


def _fold(name: str) -> str:
    return " ".join(name.split()).strip("'").lower()


def _recipient_blocks(listed: str, names: dict[str, str]) -> list[Entry]:
    """One entry per "RECIPIENT on DATE" line, where RECIPIENT is an address (or an X.400 form carrying
    one) or a display name the original's headers resolve, with the lines under it as its error. A
    report mixes both when some recipients were addressed with a name and some without."""
    entries: list[Entry] = []
    cur: Entry | None = None
    for line in listed.split("\n"):
        if _STOP.search(line):
            break
        addr = _recipient_of(line, names)
        if addr:
            cur = Entry(recipient=addr, action="failed")
            entries.append(cur)
        elif cur is not None and line.strip():
            cur.diagnostic = (cur.diagnostic + " " + line.strip()).strip()
    return entries


def _recipient_of(line: str, names: dict[str, str]) -> str:
    # the rest of the line is the date: the error is on the lines under it
    if m := _ADDR_LINE.match(line):
        return clean_address(m.group(1))
    if names and (m := _NAME_LINE.match(line)):
        return names.get(_fold(m.group(1)), "")
    return ""
