"""RFC 5965 Abuse Reporting Format (feedback loops) and the pre-ARF complaint formats
that mailbox providers still send (Microsoft JMRP, AOL's "Email Feedback Report")."""

from __future__ import annotations

from .message import parse_headers
from .patterns import IGNORECASE, lazy
from .report import ADDRESS, Report, clean_address

NAME = "arf"

_SUBJECTS = lazy(r"^(?:complaint about message from |email feedback report for ip |abuse report )", IGNORECASE)


def detect(rep: Report) -> bool:
    ctype = rep.mail.header("content-type").lower()
    if "report-type=feedback-report" in ctype.replace('"', "").replace(" ", ""):
        return True
    if rep.feedback:
        return True
    if _SUBJECTS.match(rep.subject.strip()) and rep.original:
        return True
    return "x-hmxmroriginalrecipient:" in rep.original.lower()


def _addresses(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        for m in ADDRESS.finditer(value):
            addr = clean_address(m.group(0))
            if addr and addr not in out:
                out.append(addr)
    return out


def recipients(rep: Report) -> list[str]:
    fb = parse_headers(rep.feedback) if rep.feedback else {}
    found = _addresses(fb.get("original-rcpt-to", []) + fb.get("removal-recipient", []))
    if found:
        return found
    head = rep.returned_headers()
    found = _addresses(head.get("x-hmxmroriginalrecipient", []))
    if found:
        return found
    # a report that hides the recipient names nobody: no placeholder may reach the ledger
    return [a for a in _addresses(head.get("to", [])) if not _redacted(a)]


# RFC 6590 redaction: the local part masked by a run of one character ("xxxxxxxx", "*****")
def _redacted(addr: str) -> bool:
    local = addr.rpartition("@")[0].strip('"').lower()
    return len(local) >= 3 and len(set(local)) == 1 and local[0] in "x*#"


def feedback_type(rep: Report) -> str:
    fb = parse_headers(rep.feedback) if rep.feedback else {}
    return (fb.get("feedback-type") or ["abuse"])[0].strip().lower()
