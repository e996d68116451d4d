"""RFC 3464 / RFC 6522 delivery status notifications: the per-recipient fields of a
message/delivery-status part, also when a vendor mislabels it or inlines it as text."""

from __future__ import annotations

import re

from .entry import Entry
from .report import ADDRESS, Report, clean_address

NAME = "rfc3464"

_FIELD = re.compile(
    r"^[ \t]*(final-recipient|original-recipient|x-actual-recipient|action|status|remote-mta|diagnostic-code|"
    r"reporting-mta|received-from-mta|original-envelope-id|last-attempt-date|will-retry-until|"
    r"x-postfix-sender|arrival-date)[ \t]*:[ \t]*(.*)$",
    re.I,
)
_STATUS_VALUE = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})")


def _typed(value: str) -> tuple[str, str]:
    """'rfc822; a@b' -> ('RFC822', 'a@b'); a value without a type keeps it empty."""
    if ";" in value:
        kind, _, rest = value.partition(";")
        if len(kind) <= 20 and " " not in kind.strip():
            return kind.strip().upper(), rest.strip()
    return "", value.strip()


def _address(value: str) -> str:
    _, addr = _typed(value)
    m = re.search(r"<([^<>]+@[^<>]+)>", addr)
    if m:
        addr = m.group(1)
    else:
        m = ADDRESS.search(addr)
        addr = m.group(0) if m else addr
    return clean_address(addr)


def action_of(value: str) -> str:
    v = value.strip().lower()
    for name in ("failed", "delayed", "delivered", "relayed", "expanded"):
        if v.startswith(name):
            return name
    if v.startswith("fail") or v.startswith("error") or v.startswith("undeliverable"):
        return "failed"
    if v.startswith("expired"):
        return "expired"
    return ""


def fields(text: str) -> tuple[dict[str, str], list[Entry]]:
    """Per-message fields and one Entry per recipient block found in `text`."""
    meta: dict[str, str] = {}
    entries: list[Entry] = []
    cur: Entry | None = None
    has_final = False
    last_field = ""
    for line in text.split("\n"):
        if last_field == "diagnostic-code" and cur is not None and line[:1] in (" ", "\t") and line.strip():
            cur.diagnostic += " " + line.strip()
            continue
        m = _FIELD.match(line)
        if not m:
            last_field = ""
            continue
        name, value = m.group(1).lower(), m.group(2).strip()
        last_field = name
        if name == "final-recipient" or name == "original-recipient":
            addr = _address(value)
            if name == "final-recipient":
                if cur is None or has_final:
                    cur = Entry()
                    entries.append(cur)
                elif cur.alias and not cur.recipient:
                    pass
                has_final = True
                cur.recipient = addr or cur.recipient
            else:
                if cur is None or cur.alias or (has_final and (cur.action or cur.status)):
                    cur = Entry()
                    entries.append(cur)
                    has_final = False
                cur.alias = addr
            continue
        if name == "x-actual-recipient":
            if cur is not None and ADDRESS.search(value) and not cur.recipient:
                cur.recipient = _address(value)
            continue
        if cur is None:
            meta.setdefault(name, value)
            continue
        if name == "action":
            cur.action = action_of(value)
        elif name == "status":
            m2 = _STATUS_VALUE.search(value)
            cur.status = m2.group(0) if m2 else cur.status
        elif name == "remote-mta":
            cur.remote_mta = _typed(value)[1]
        elif name == "diagnostic-code":
            kind, diag = _typed(value)
            cur.diagnostic_type = kind or "SMTP"
            cur.diagnostic = diag
        else:
            meta.setdefault(name, value)
    for e in entries:
        if not e.recipient:
            e.recipient = e.alias
    return meta, [e for e in entries if e.recipient]


def looks_like_dsn(text: str) -> bool:
    low = text.lower()
    return ("final-recipient:" in low or "original-recipient:" in low) and ("status:" in low or "action:" in low)


def parse(rep: Report) -> tuple[dict[str, str], list[Entry]]:
    """Fields from the delivery-status part, else from delivery-status fields inlined in text."""
    if rep.has_ds:
        meta, entries = fields(rep.ds)
        if entries:
            return meta, entries
    text = rep.error_text()
    if looks_like_dsn(text):
        return fields(text)
    if rep.text and looks_like_dsn(rep.text):
        return fields(rep.text)
    return {}, []
