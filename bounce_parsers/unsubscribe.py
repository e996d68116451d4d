"""Unsubscribe requests written by people: a mail whose Subject, or else whose first line of text, is
an unsubscribe command — what an RFC 2369 `mailto:…?subject=unsubscribe` link produces, and what
people type as the first line of a reply. Asked only after the machine-mail parsers found nothing, so a bounce
quoting the word is never one. A reply that merely mentions unsubscribing is left to a person."""

from __future__ import annotations

from .patterns import IGNORECASE, lazy
from .report import Report

NAME = "unsubscribe-command"

_REPLY_PREFIX = lazy(r"^(?:(?:re|aw|sv|vs|wg|fw|fwd|tr|r)\s*(?:\[\d+\])?\s*:\s*)+", IGNORECASE)
_COMMAND = lazy(
    r"(?:unsubscribe|unsub|remove(?: me)?|opt[ -]?out|stop|cancel(?: subscription)?|"
    r"abmelden|abbestellen|d[ée]sabonner|d[ée]sinscription|se d[ée]sinscrire|baja|darse de baja|"
    r"cancelar suscripci[óo]n|uitschrijven|afmelden|disiscrivi(?:mi)?|cancella iscrizione)"
    r"(?:\s+(?:me|please|pls|all|this list|from (?:this|the) list))?[\s.!]*",
    IGNORECASE,
)
_SIGNATURE_START = lazy(r"^(?:--\s*$|>|on .* wrote:|sent from )", IGNORECASE)


def _is_command(text: str) -> bool:
    return bool(_COMMAND.fullmatch(_REPLY_PREFIX.sub("", text.strip()).strip()))


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return "" if _SIGNATURE_START.match(line.strip()) else line
    return ""


def detect(rep: Report) -> str:
    """The evidence (`…:subject` or `…:body`) when this mail asks to be unsubscribed, else ''."""
    if _is_command(rep.subject):
        return f"{NAME}:subject"
    if _is_command(_first_line(rep.text)):
        return f"{NAME}:body"
    return ""
