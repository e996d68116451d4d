"""qmail (and qmail-ldap, netqmail, Yahoo's qmail-derived MTA): "Hi. This is the
qmail-send program", one "<address>:" paragraph per recipient."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import lazy
from ..report import Report
from ._base import Table, blocks, body_has, table_reason

NAME = "qmail"
# a local part may be quoted and hold spaces (RFC 5321 Quoted-string): <"bill smith"@b.example>
_ADDR_LINE = lazy(r'^<((?:"[^"\n]{1,128}"|[^<>\s@]{1,128})@[^<>\s@]{1,255})>:?')
_STOP = lazy(r"^--- (?:Below this line is a copy|Enclosed is a copy)|^--- Original message")
# qmail-remote.c / qmail-local.c / qmail-ldap messages, in the order they should win
TABLE: Table = (
    (
        "systemerror",
        (
            "automatic homedir creator crashed",
            "illegal value in ldap attribute",
            "ldap attribute is not given but mandatory",
            "timeout while performing search on ldap server",
            "too many results returned but needs to be unique",
            "error while executing qmail-forward",
            "temporary error in automatic homedir creation",
            "temporary failure in ldap lookup",
            "unable to contact ldap server",
            "unable to login into ldap server",
            "bad interpreter: no such file or directory",
        ),
    ),
    (
        "suspend",
        (
            "mailaddress is administrativly disabled",
            "mailaddress is administratively disabled",
            "mailaddress is administrativley disabled",
        ),
    ),
    ("userunknown", ("no mailbox here by that name",)),
    ("exceedlimit", ("the message exeeded the maximum size the user accepts",)),
    ("mailboxfull", ("disk quota exceeded",)),
    ("mesgtoobig", ("message size exceeds fixed maximum message size:", "message size exceeds my databytes limit")),
    ("hostunknown", ("sorry, i couldn't find any host ",)),
    ("systemfull", ("requested action not taken: mailbox unavailable (not enough free space)",)),
    (
        "networkerror",
        (
            "sorry, i wasn't able to establish an smtp connection",
            "although i'm listed as a best-preference mx or a for that host",
        ),
    ),
    ("notaccept", ("sorry, i couldn't find a mail exchanger or ip address",)),
)
_COMMANDS = (
    (lazy(r"most progress was ([A-Z]{4}) "), ""),
    (lazy(r"does not like recipient\."), "RCPT"),
    (lazy(r"failed on DATA command|failed after I sent the message"), "DATA"),
    (lazy(r"but sender was rejected"), "MAIL"),
    (lazy(r"but my name was rejected"), "EHLO"),
    (lazy(r"but greeting failed"), "CONN"),
)
_EXPIRED = "this message has been in the queue too long"


def detect(rep: Report) -> bool:
    # the last wording is Yahoo's and other qmail-derived MTAs' ("Message from <host>.")
    return body_has(
        rep,
        "This is the qmail",
        "qmail-send program",
        "--- Below this line is a copy of the message",
        "Unable to deliver message to the following address(es).",
    )


def command_of(text: str) -> str:
    for pattern, name in _COMMANDS:
        m = pattern.search(text)
        if m:
            return name or m.group(1)
    return ""


def parse(rep: Report) -> list[Entry]:
    entries = blocks(rep.text, _ADDR_LINE, _STOP)
    for e in entries:
        e.command = command_of(e.diagnostic)
        said = " said:" in e.diagnostic or "Remote host said" in e.diagnostic
        e.reason = "" if said else table_reason(e.diagnostic, TABLE)
        if not e.reason and not said and _EXPIRED in e.diagnostic.lower():
            e.reason = "expired"
    return entries
