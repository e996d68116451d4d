"""Gmail's own returns (before Google moved to RFC 3464 parts): "Delivery to the following
recipient failed permanently:" (or "has been delayed"), the indented addresses, then
"Technical details of permanent failure:" and what the remote server answered."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import Table, bounce_like, dsn_has_recipient, table_reason

NAME = "gmail"
_START = lazy(
    r"^[ \t]*Delivery to the following recipients? (failed permanently|has been delayed|"
    r"failed temporarily|failed)[^\n]*:?[ \t]*$",
    IGNORECASE | MULTILINE,
)
_DETAILS = lazy(r"^[ \t]*Technical details(?: of (?:permanent|temporary) failure)?:?[ \t]*$", IGNORECASE | MULTILINE)
_END = lazy(r"^[ \t]*(?:-{3,}|={5,}|\*{3,})", MULTILINE)
_ADDR = lazy(r"^[ \t]*(?:\*[ \t]*)?<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?[ \t]*$")
# Gmail's own explanations, where no remote server answered
TABLE: Table = (
    ("userunknown", ("the email account that you tried to reach does not exist",)),
    ("mailboxfull", ("the email account that you tried to reach is over quota",)),
    ("suspend", ("the email account that you tried to reach is disabled",)),
    ("hostunknown", ("dns error: domain name not found", "dns error: dns server returned answer with no data")),
    (
        "expired",
        ("the recipient server did not accept our requests to connect", "we will give up after", "has been delayed"),
    ),
    ("failedstarttls", ("tls negotiation failed", "does not support tls")),
)
# Gmail's older notices end the remote answer with "(state N)": the stage of its SMTP
# client when the remote server refused. State 14 is the answer to RCPT TO; 15, 17 and 18
# come after the recipients were accepted, so a refusal there is the recipient side's filter.
# (The connection-stage states keep the remote text's own reason: TLS, AUTH, blocking.)
_STATE = lazy(r"\(state (\d{1,2})\)")
STATES: dict[str, tuple[str, str]] = {
    "14": ("RCPT", "userunknown"),
    "15": ("DATA", "filtered"),
    "17": ("DATA", "filtered"),
    "18": ("DATA", "filtered"),
}
_RETURNED = lazy(r"The error that the other server returned was:[ \t]*\n?", IGNORECASE)


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    return (
        "Delivery to the following recipient" in rep.text[:5000]
        and bool(_START.search(rep.text[:5000]))
        and not dsn_has_recipient(rep)
    )


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    start = _START.search(text)
    if not start:
        return []
    delayed = "delayed" in start.group(1).lower() or "temporar" in start.group(1).lower()
    rest = text[start.end() :]
    d = _DETAILS.search(rest)
    head = rest[: d.start()] if d else rest[:2000]
    entries: list[Entry] = []
    for line in head.split("\n"):
        m = _ADDR.match(line)
        if m:
            addr = clean_address(m.group(1))
            if addr:
                entries.append(Entry(recipient=addr, action="delayed" if delayed else "failed"))
        elif line.strip() and entries:
            break
    detail = ""
    said = None
    if d:
        body = rest[d.end() :].lstrip("\n")
        e = _END.search(body)
        detail = body[: e.start()] if e else body[:2000]
        said = _RETURNED.search(detail)
        if said:
            detail = detail[: said.start()] + " " + detail[said.end() :]
    own = "" if said else table_reason(detail, TABLE)
    st = _STATE.search(detail)
    command, by_state = STATES.get(st.group(1), ("", "")) if st else ("", "")
    for ent in entries:
        ent.diagnostic = " ".join(detail.split())
        ent.command = command
        ent.reason = own or by_state or ("failedstarttls" if "does not support tls" in detail.lower() else "")
    return entries
