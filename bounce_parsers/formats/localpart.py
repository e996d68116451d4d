"""Reports that name the failed recipients without a domain:
- campus mailers of the 1990s (Yale's among them) that looked names up in a directory
  ("nameserver"): "Message not delivered to the following:", then "    jdoe    No matches to
  nameserver query";
- old AOL: "... could not be delivered because they are not accepting mail from X:", then one
  screen name a line (spaces allowed; the address drops them).
The domain is the one the returned original was sent to for that name, else the reporting
host's (AOL's relays report for aol.com)."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import ADDRESS, Report, clean_address, first_address
from ._base import Table, bounce_like, table_reason

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

NAME = "localpart"
_START = lazy(r"^[ \t]*Message not delivered to the following:?[ \t]*$", IGNORECASE | MULTILINE)
# the directory's own answers: no entry for the name is an unknown user
TABLE: Table = (("userunknown", ("no matches to nameserver query",)),)
# the report's own sentence (flush left, unlike a quoted remote error), ending in a colon
_NOT_ACCEPTING = lazy(r"^\S[^\n]{0,300}?\bnot accepting (?:e-?)?mail from [^\n]{0,300}:[ \t]*$", IGNORECASE | MULTILINE)
_SCREEN_NAME = lazy(r"^[ \t]+([A-Za-z][A-Za-z0-9 ]{0,31})[ \t]*$")
_ROW = lazy(r"^[ \t]+([A-Za-z0-9._+=-]{1,64}(?:@[A-Za-z0-9.-]{1,255})?)(?:[ \t]{2,}|\t)(\S.*)$")


def detect(rep: Report) -> bool:
    head = rep.text[:4000]
    return (
        "not delivered to the following" in head
        and bool(_START.search(head))
        or "not accepting" in head
        and bool(_NOT_ACCEPTING.search(head))
    ) and bounce_like(rep)


def _domains(rep: Report) -> dict[str, str]:
    """local part -> the address the returned original was sent to."""
    out: dict[str, str] = {}
    head = rep.returned_headers()
    for name in ("to", "cc"):
        for value in head.get(name, []):
            for m in ADDRESS.finditer(value):
                addr = clean_address(m.group(0))
                if addr:
                    out.setdefault(addr.rpartition("@")[0].lower(), addr)
    return out


def _reporter(rep: Report) -> str:
    domain = first_address(rep.from_).rpartition("@")[2]
    return "aol.com" if domain.endswith(".aol.com") else domain


def _screen_names(rep: Report, start: re.Match[str]) -> list[Entry]:
    sent = _domains(rep)
    reporter = _reporter(rep)
    diag = start.group(0).strip()
    entries: list[Entry] = []
    for line in rep.text[start.end() :].lstrip("\n").split("\n"):
        row = _SCREEN_NAME.match(line)
        if not row:
            break
        name = row.group(1).replace(" ", "")
        addr = sent.get(name.lower()) or (clean_address(f"{name.lower()}@{reporter}") if reporter else "")
        if addr:
            entries.append(Entry(recipient=addr, action="failed", diagnostic=diag))
    return entries


def parse(rep: Report) -> list[Entry]:
    m = _START.search(rep.text)
    if not m:
        aol = _NOT_ACCEPTING.search(rep.text)
        return _screen_names(rep, aol) if aol else []
    sent = _domains(rep)
    reporter = _reporter(rep)
    entries: list[Entry] = []
    for line in rep.text[m.end() :].lstrip("\n").split("\n"):
        if not line.strip():
            if entries:
                break
            continue
        row = _ROW.match(line)
        if not row:
            break
        name, reason = row.group(1), row.group(2).strip()
        if "@" in name:
            addr = clean_address(name)
        else:
            addr = sent.get(name.lower()) or (clean_address(f"{name}@{reporter}") if reporter else "")
        if addr:
            entries.append(
                Entry(recipient=addr, action="failed", diagnostic=reason, reason=table_reason(reason, TABLE))
            )
    return entries
