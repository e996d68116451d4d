"""fml, the Japanese mailing-list manager: its error notices to the list admin
("Loop Alert: Duplicated Message-ID", "Security alert", "not member"), recognised by the
X-MLServer header. The affected recipient is the list address the notice names."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import lazy
from ..report import Report, clean_address
from ._base import Table, table_reason

NAME = "fml"
_ANGLE = lazy(r"<([^<>\s@]{1,128}@[^<>\s@]{1,255})>")
TABLE: Table = (
    ("rejected", ("are not member", "not a member", "only members", "allowed to post", "you are not")),
    ("systemerror", ("duplicated message-id", "loop alert", "loop detected", "looped")),
    ("securityerror", ("security alert", "security warning", "mail is rejected", "bad command")),
)


def detect(rep: Report) -> bool:
    return "fml" in rep.mail.header("x-mlserver").lower() and bool(rep.mail.header("x-ml-name") or rep.text)


def parse(rep: Report) -> list[Entry]:
    text = rep.error_text() or rep.text
    head = text[:2000]
    m = _ANGLE.search(head)
    addr = clean_address(m.group(1)) if m else ""
    if not addr:
        return []
    diag = " ".join(ln.strip() for ln in head.split("\n")[:6] if ln.strip())
    reason = table_reason(rep.subject + " " + diag, TABLE)
    return [Entry(recipient=addr, action="failed", diagnostic=(rep.subject + " " + diag).strip(), reason=reason)]
