"""Bounce reasons: phrase tables (phrases.py), code tables (codes.py), provider tables
(providers.py) and the rule that combines them (rules.py)."""

from __future__ import annotations

from .. import smtp
from .codes import REPLY_REASON, STATUS_REASON, status_reason
from .rules import HARD, find, includes, is_hard, match_text

__all__ = [
    "HARD",
    "REPLY_REASON",
    "STATUS_REASON",
    "classify_smtp_reply",
    "find",
    "includes",
    "is_hard",
    "match_text",
    "status_reason",
]


def classify_smtp_reply(reply_code: int, text: str) -> tuple[str, bool]:
    """(reason, hard) for a synchronous SMTP reply, e.g. a 550 to RCPT TO.

    The sender knows the command was answered during the transaction, so RCPT is assumed
    when the text names no other command."""
    try:
        reply = str(int(reply_code))
    except (TypeError, ValueError):
        reply = ""
    text = text if isinstance(text, str) else ""
    status = smtp.find_status(text, reply)
    command = smtp.find_command(text) or "RCPT"
    if reply.startswith("2"):
        return "delivered", False
    reason = find(status, reply, command, f"{reply} {text}".strip(), "SMTP", "failed")
    if reason in ("onhold", "undefined") and reply in REPLY_REASON:
        reason = REPLY_REASON[reply]
    return reason, is_hard(reason, status, reply)
