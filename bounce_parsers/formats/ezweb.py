"""au by KDDI's EZweb mail gateway: a Japanese notice, an English reason ("The user(s)
account is disabled.", "Each of the following recipients was rejected ...") and the
recipients as "<address>" lines, sometimes with a sendmail-like ">>> RCPT TO" transcript."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, lazy
from ..report import Report, clean_address
from ._base import Table, table_reason

NAME = "ezweb"
# EZweb's own English notices (naruhodo-au.kddi.com): disabled or limited accounts are
# unpaid/suspended subscribers; "rejected by a remote mail server" is the recipient's filter
TABLE: Table = (
    ("mailboxfull", ("the user(s) account is temporarily over quota",)),
    ("suspend", ("the user(s) account is disabled", "the user(s) account is temporarily limited")),
    ("expired", ("your message was not delivered within", "not delivered within")),
    ("filtered", ("each of the following recipients was rejected by a remote mail server",)),
)
_ADDR = lazy(r"^[ \t]*(?:Recipient:[ \t]*)?<([^<>\s@]{1,128}@[^<>\s@]{1,255})>[ \t]*$", IGNORECASE)
_STOP = lazy(r"^[ \t]*-{10,}|^[ \t]*(?:Received|Return-Path|From|To):", IGNORECASE)
_COMMAND = lazy(r">>> ?([A-Z]{4})\b")


def detect(rep: Report) -> bool:
    sender = rep.from_.lower()
    return "ezweb.ne.jp" in sender and ("postmaster" in sender or "mailer-daemon" in sender)


def parse(rep: Report) -> list[Entry]:
    out: list[Entry] = []
    notes: list[str] = []
    for line in rep.text.split("\n"):
        if _STOP.match(line):
            break
        s = line.strip()
        if not s:
            continue
        m = _ADDR.match(line)
        if m and clean_address(m.group(1)):
            addr = clean_address(m.group(1))
            if not any(e.recipient == addr for e in out):
                out.append(Entry(recipient=addr, action="failed"))
            continue
        if s.isascii():
            notes.append(s)
    text = " ".join(notes)
    cm = _COMMAND.search(text)
    reason = table_reason(text, TABLE)
    if rep.mail.header("x-spasign").strip().upper() == "NG":
        reason = "filtered"  # EZweb's spam filter ("spamghetti") marks what it refused
    elif cm and cm.group(1) == "RCPT" and not reason:
        reason = "userunknown"
    for e in out:
        e.diagnostic = text
        e.command = cm.group(1) if cm else ""
        e.reason = reason
    return out
