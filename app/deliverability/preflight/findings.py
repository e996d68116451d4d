"""What a check reports: one finding per thing it looked at, a problem naming what to change."""

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "problem", "warning", "skipped"]


@dataclass(frozen=True)
class Finding:
    check: str  # spf, dkim, dmarc, alignment, ptr, helo, list_unsubscribe, unsubscribe_link, size, spam_score
    status: Status
    message: str
    fix: str | None = None


def ok(check: str, message: str) -> Finding:
    return Finding(check, "ok", message)


def problem(check: str, message: str, fix: str) -> Finding:
    return Finding(check, "problem", message, fix)


def warning(check: str, message: str, fix: str) -> Finding:
    return Finding(check, "warning", message, fix)


def skipped(check: str, message: str) -> Finding:
    return Finding(check, "skipped", message)
