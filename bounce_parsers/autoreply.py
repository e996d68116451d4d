"""RFC 3834 automatic responses (vacation, out-of-office) and the vendor markers that
predate it. Bounces also carry Auto-Submitted, so the caller asks this only after the
bounce parsers found nothing, and mail from mailer daemons is never an auto-reply."""

from __future__ import annotations

from .patterns import IGNORECASE, lazy
from .report import Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

NAME = "rfc3834"

# header -> pattern on its lower-cased value. RFC 3834 5's "auto-generated" is an automatic
# message that answers nothing (a list's confirmation request, a notice): no marker by itself
# (Exchange's out-of-office replies carry it beside X-Auto-Response-Suppress and their subject)
_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("auto-submitted", lazy(r"^auto-replied")),
    ("x-autoreply", lazy(r"\S")),
    ("x-autorespond", lazy(r"\S")),
    ("x-auto-response-suppress", lazy(r"oof|autoreply")),
    ("x-apple-action", lazy(r"^vacation$")),
    ("precedence", lazy(r"^auto_reply$")),
)
_SUBJECT = lazy(
    r"^(?:auto:|auto response:|automatic reply:|autoreply:|auto-reply:|out of (?:the )?office|"
    r"abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|risposta automatica|"
    r"respuesta autom[áa]tica|automatisch antwoord|on vacation|vacation reply)",
    IGNORECASE,
)
_EXCLUDE_FROM = lazy(r"(?:root|postmaster|mailer-daemon)@", IGNORECASE)
_ROOT = lazy(r"root@", IGNORECASE)
_EXCLUDE_SUBJECT = lazy(r"security information for|mail failure -", IGNORECASE)


def detect(rep: Report) -> str:
    """The marker that makes this an auto-reply, or ''."""
    if _EXCLUDE_FROM.search(rep.from_) or _EXCLUDE_SUBJECT.search(rep.subject):
        return ""
    if _ROOT.search(rep.mail.header("to")):
        return ""
    for name, pattern in _MARKERS:
        value = rep.mail.header(name).strip().lower()
        if value and pattern.search(value):
            return f"rfc3834:{name}"
    if _SUBJECT.match(rep.subject.strip()):
        return "rfc3834:subject"
    return ""


def diagnostic(rep: Report) -> str:
    """The first few lines of the reply, for the record."""
    lines = [ln.strip() for ln in rep.text.split("\n") if " " in ln.strip()][:5]
    return " ".join(lines) or rep.subject
