"""RFC 3464 / RFC 6522 delivery status notifications: the per-recipient fields of a
message/delivery-status part, also when a vendor mislabels it or inlines it as text."""

from __future__ import annotations

from .entry import Entry
from .patterns import IGNORECASE, lazy
from .report import ADDRESS, Report, clean_address

NAME = "rfc3464"

_FIELD = lazy(
    r"^[ \t]*(final-recipient|original-recipient|x-actual-recipient|action|status|remote-mta|diagnostic-code|"
    r"reporting-mta|received-from-mta|original-envelope-id|last-attempt-date|will-retry-until|"
    r"x-postfix-sender|arrival-date)[ \t]*:[ \t]*(.*)$",
    IGNORECASE,
)
_STATUS_VALUE = lazy(r"([245])\.(\d{1,3})\.(\d{1,3})")


def _typed(value: str) -> tuple[str, str]:
    """'rfc822; a@b' -> ('RFC822', 'a@b'); a value without a type keeps it empty."""
    if ";" in value:
        kind, _, rest = value.partition(";")
        if len(kind) <= 20 and " " not in kind.strip():
            return kind.strip().upper(), rest.strip()
    return "", value.strip()


# RFC 5321 source route ("@relay1,@relay2:user@host") before a mailbox, and the relay-era
# forms of a rewritten one ("user%host@relay", "host!user@relay")
_ROUTE = lazy(r"^[ \t<]*@[^:<>\s]{1,255}:")
_BRACKETED = lazy(r"<([^<>@]{0,128}@[^<>]{1,400})>")
_RELAYED = lazy(r"[%!][^@\s]*@")


def _address(value: str) -> str:
    _, addr = _typed(value)
    addr = _ROUTE.sub("", addr)
    m = _BRACKETED.search(addr)
    if m:
        addr = m.group(1)
    else:
        m = ADDRESS.search(addr)
        addr = m.group(0) if m else addr
    return clean_address(addr)


def _routed(value: str) -> bool:
    """A Final-Recipient that a relay rewrote (source route, % or ! hack)."""
    addr = _typed(value)[1]
    return bool(_ROUTE.match(addr) or _RELAYED.search(addr))


def unnamed(text: str) -> Entry:
    """The per-recipient fields of a delivery-status part that names no recipient."""
    e = Entry()
    last = ""
    seen: set[str] = set()
    for line in text.split("\n"):
        if last == "diagnostic-code" and line[:1] in (" ", "\t") and line.strip():
            e.diagnostic += " " + line.strip()
            continue
        m = _FIELD.match(line)
        last = m.group(1).lower() if m else ""
        if m and last in _PER_RECIPIENT and last not in seen:  # the first group's fields
            seen.add(last)
            _set(e, last, m.group(2).strip())
    return e


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


_PER_RECIPIENT = frozenset({"action", "status", "remote-mta", "diagnostic-code"})
# an SMTP multi-line reply continued without indentation: "550-more text" / "550 last line"
_REPLY_CONT = lazy(r"^[245]\d\d[ -]")


def _set(e: Entry, name: str, value: str) -> None:
    if name == "action":
        e.action = action_of(value)
    elif name == "status":
        m = _STATUS_VALUE.search(value)
        e.status = m.group(0) if m else e.status
    elif name == "remote-mta":
        e.remote_mta = _typed(value)[1]
    elif name == "diagnostic-code":
        kind, diag = _typed(value)
        e.diagnostic_type = kind or "SMTP"
        e.diagnostic = diag


def _adopt(e: Entry, early: Entry) -> None:
    """Give a new recipient the fields its group named before it."""
    e.action = e.action or early.action
    e.status = e.status or early.status
    e.remote_mta = e.remote_mta or early.remote_mta
    if early.diagnostic and not e.diagnostic:
        e.diagnostic, e.diagnostic_type = early.diagnostic, early.diagnostic_type


def fields(text: str) -> tuple[dict[str, str], list[Entry]]:
    """Per-message fields and one Entry per recipient block found in `text`."""
    meta: dict[str, str] = {}
    entries: list[Entry] = []
    cur: Entry | None = None
    has_final = False
    last_field = ""
    # per-recipient fields met before the recipient line of their group (RFC 3464 fixes no order)
    early = Entry()
    in_group = False  # a recipient named since the last blank line
    set_after = False  # a per-recipient field followed the recipient line
    routed: set[int] = set()  # entries whose Final-Recipient a relay rewrote
    for line in text.split("\n"):
        if (
            last_field == "diagnostic-code"
            and (line[:1] in (" ", "\t") or _REPLY_CONT.match(line))
            and line.strip()
            and not _FIELD.match(line)
        ):
            target = cur if cur is not None and in_group else early
            target.diagnostic += " " + line.strip()
            continue
        if not line.strip():
            if cur is not None and not in_group:
                _adopt(cur, early)  # a recipient's fields continued after a blank line
            early = Entry()
            in_group = False
            last_field = ""
            continue
        m = _FIELD.match(line)
        if not m:
            last_field = ""
            continue
        name, value = m.group(1).lower(), m.group(2).strip()
        last_field = name
        if name in _PER_RECIPIENT and (cur is None or not in_group):
            _set(early, name, value)
            continue
        if name == "final-recipient" or name == "original-recipient":
            addr = _address(value)
            if name == "final-recipient":
                if cur is None or has_final or not in_group:
                    cur = Entry()
                    entries.append(cur)
                    _adopt(cur, early)
                    early = Entry()
                has_final = True
                cur.recipient = addr or cur.recipient
                if _routed(value):
                    routed.add(id(cur))
            else:
                if cur is None or cur.alias or not in_group or (has_final and set_after):
                    cur = Entry()
                    entries.append(cur)
                    _adopt(cur, early)
                    early = Entry()
                    has_final = False
                cur.alias = addr
            in_group = True
            set_after = False
            continue
        if name == "x-actual-recipient":
            if cur is not None and ADDRESS.search(value) and not cur.recipient:
                cur.recipient = _address(value)
            continue
        if cur is None or name not in _PER_RECIPIENT:
            meta.setdefault(name, value)
            continue
        _set(cur, name, value)
        set_after = True
    if cur is not None and not in_group:
        _adopt(cur, early)
    reporter = _typed(meta.get("reporting-mta", ""))[1]
    for e in entries:
        if not e.recipient or (e.alias and id(e) in routed):
            e.recipient = e.alias  # the address as it was given, not as a relay rewrote it
        e.reporter = reporter
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
