"""Exim: "This message was created automatically by mail delivery software.", each failed
address on its own indented line, the error indented beneath it."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, local_part
from ._base import Table, blocks, body_has, table_reason

NAME = "exim"
_ADDR_LINE = lazy(
    r"^[ \t]+<?(" + local_part(r"[^<>\s:@]{1,128}") + r"@[^<>\s:@]{1,255}?)>?(?::[ \t]|:?[ \t]*(?:$|\(|<))"
)
# 1&1 / GMX / Zoho print the address flush left, quoted or not, ending with a colon
_FLUSH_LINE = lazy(r'^"?<?([^<>\s:"@]{1,128}@[^<>\s:"@]{1,255}?)>?"?:[ \t]*$')
_REPLY_CODE = lazy(r"\b[45]\d\d[ -]")
_STOP = lazy(
    r"^-{2,}[ \t]*The header of the original message|^-{3,}[ \t]*This is a copy of"
    r"|^-{3,}.*(?:original message|message body)|^Reporting-MTA:"
    r"|^[ \t]*Included is a copy of the message header",
    IGNORECASE,
)
TABLE: Table = (
    ("userunknown", ("user not found",)),
    (
        "hostunknown",
        (
            "all host address lookups failed permanently",
            "all relevant mx records point to non-existent hosts",
            "unrouteable address",
        ),
    ),
    ("mailboxfull", ("mailbox is full", "error: quota exceed")),
    ("notaccept", ("an mx or srv record indicated no smtp service", "no host found for existing smtp connection")),
    (
        "syntaxerror",
        (
            "angle-brackets nested too deep",
            'expected word or "<"',
            "domain missing in source-routed address",
            "malformed address:",
        ),
    ),
    (
        "systemerror",
        ("delivery to file forbidden", "delivery to pipe forbidden", "local delivery failed", "lmtp error after "),
    ),
    ("contenterror", ('too many "received" headers',)),
)
_DELAYED = (
    "retry timeout exceeded",
    "no action is required on your part",
    "retry time not reached for any host after a long failure period",
    "all hosts have been failing for a long time",
    "delay reason: ",
    "has been frozen",
    "was frozen on arrival",
)
_COMMAND = lazy(
    r"(?:SMTP|LMTP) error from remote (?:mail server|mailer) after (?:end of )?([A-Za-z]{4})"
    r"|LMTP error after (?:end of )?([A-Za-z]{4})"
)


def detect(rep: Report) -> bool:
    if rep.mail.header("x-failed-recipients") and "exim" in (rep.mail.header("received") + rep.text[:3000]).lower():
        return True
    return body_has(
        rep,
        "This message was created automatically by mail delivery software",
        "This message was created automatically by the mail delivery software",
    )


# deliver.c hides a child address it may not show ("hide_child_in_errmsg") and names the
# address that was sent to instead: "an undisclosed address\n    (generated from ADDR)"
_UNDISCLOSED = lazy(
    r"^([ \t]+)an undisclosed address[ \t]*\n[ \t]+\(generated from[ \t]+<?([^<>()\s@]{1,128}@"
    r"[^<>()\s@]{1,255}?)>?\)[ \t]*$",
    IGNORECASE | MULTILINE,
)


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    named = [m.group(2).lower() for m in _UNDISCLOSED.finditer(text)]
    if named:
        text = _UNDISCLOSED.sub(lambda m: m.group(1) + m.group(2), text)
    start = text.find("recipients")
    if start < 0:
        start = text.find("failed:")
    entries = blocks(text[start:] if start >= 0 else text, _ADDR_LINE, _STOP)
    if not entries:
        entries = blocks(text[start:] if start >= 0 else text, _FLUSH_LINE, _STOP)
    failed = [a.strip() for v in rep.mail.headers.get("x-failed-recipients", []) for a in v.split(",")]
    if failed:
        low = {a.lower() for a in failed} | set(named)
        kept = [e for e in entries if e.recipient.lower() in low]
        entries = kept or entries
    delayed = "delayed" in rep.subject.lower() or "warning: message" in rep.subject.lower()
    for e in entries:
        m = _COMMAND.search(e.diagnostic)
        if m:
            word = (m.group(1) or m.group(2)).upper()
            e.command = "DATA" if word == "DATA" else word
        remote = "said:" in e.diagnostic or bool(_REPLY_CODE.search(e.diagnostic))
        e.reason = "" if remote else table_reason(e.diagnostic, TABLE)
        diagnostic = e.diagnostic.lower()
        if any(p in diagnostic for p in _DELAYED):
            e.reason = e.reason or "expired"
        if delayed:
            e.action = "delayed"
    return entries
