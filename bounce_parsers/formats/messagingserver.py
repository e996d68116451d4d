"""Sun / Oracle Communications Messaging Server (iPlanet) when no delivery-status part names
the recipient: "This report relates to a message you sent with the following header
fields:", then "Your message cannot be delivered to the following recipients:" and per
recipient indented "Recipient address:", "Reason:", "Diagnostic code:", "Remote system:"."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, lazy
from ..report import Report, clean_address
from ._base import bounce_like, dsn_has_recipient

NAME = "messagingserver"
_FIELD = lazy(
    r"^[ \t]*(Recipient address|Original address|Reason|Diagnostic code|Remote system)[ \t]*:"
    r"[ \t]*(.*)$",
    IGNORECASE,
)
_DELAYED = lazy(r"has not yet been delivered|delivery has been delayed|will continue to attempt", IGNORECASE)


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    head = rep.text[:4000]
    return (
        "Recipient address:" in head
        and ("This report relates to a message you sent" in head or "the following recipients:" in head)
        and not dsn_has_recipient(rep)
    )


def _value(v: str) -> str:
    """'smtp;550 ...' / 'dns;host' -> the part after the type."""
    kind, sep, rest = v.partition(";")
    return rest.strip() if sep and len(kind) <= 12 and " " not in kind.strip() else v.strip()


def parse(rep: Report) -> list[Entry]:
    out: list[Entry] = []
    cur: Entry | None = None
    last = ""
    delayed = bool(_DELAYED.search(rep.text[:3000]))
    reason_text = ""
    for line in rep.text.split("\n"):
        m = _FIELD.match(line)
        if not m:
            if cur is not None and last == "diagnostic code" and line[:1] in (" ", "\t") and line.strip():
                cur.diagnostic += " " + line.strip()
                continue
            last = ""
            continue
        name, value = m.group(1).lower(), m.group(2).strip()
        last = name
        if name == "recipient address":
            addr = clean_address(value.strip("<>"))
            cur = Entry(recipient=addr, action="delayed" if delayed else "failed") if addr else None
            if cur is not None:
                out.append(cur)
            reason_text = ""
        elif cur is None:
            continue
        elif name == "original address":
            cur.alias = clean_address(_value(value).strip("<>"))
        elif name == "reason":
            reason_text = value
            cur.diagnostic = cur.diagnostic or value
        elif name == "diagnostic code":
            cur.diagnostic = _value(value)
            cur.diagnostic_type = "SMTP"
        elif name == "remote system":
            cur.remote_mta = _value(value).split(" ", 1)[0]
        if cur is not None and "rejected address" in reason_text.lower():
            cur.command = "RCPT"  # "Remote SMTP server has rejected address": the RCPT TO was refused
    return out
