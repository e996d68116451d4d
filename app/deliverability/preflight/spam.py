"""A spam score from a local SpamAssassin (spamd), asked as spamc asks it (SPAMC/1.5 SYMBOLS): the score,
the threshold and the rules the message hit."""

import re
import socket

from app.deliverability.preflight.findings import Finding, ok, problem, skipped, warning
from app.deliverability.preflight.setup import SendingSetup
from app.settings import Settings

TIMEOUT_SECONDS = 30.0
MAX_REPLY_BYTES = 64 * 1024
MAX_MESSAGE_BYTES = 512 * 1024  # spamc's own default: spamd skips what is larger
_HEADER = re.compile(rb"^Spam:\s*(\w+)\s*;\s*(-?[\d.]+)\s*/\s*(-?[\d.]+)", re.IGNORECASE | re.MULTILINE)


class SpamdError(Exception):
    pass


def ask_spamd(host: str, port: int, message: bytes) -> tuple[float, float, list[str]]:
    """(score, threshold, rules hit); SpamdError naming what went wrong."""
    body = message[:MAX_MESSAGE_BYTES]
    request = b"SYMBOLS SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(body) + body
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS) as conn:
            conn.sendall(request)
            conn.shutdown(socket.SHUT_WR)
            reply = b""
            while len(reply) < MAX_REPLY_BYTES and (chunk := conn.recv(8192)):
                reply += chunk
    except OSError as exc:
        raise SpamdError(f"SpamAssassin (spamd) at {host}:{port} did not answer: {exc.strerror or exc}") from exc
    status, _, rest = reply.partition(b"\r\n")
    if not status.startswith(b"SPAMD/") or b" 0 " not in status:
        raise SpamdError(f"SpamAssassin at {host}:{port} refused the check: {status[:200].decode('ascii', 'replace')}")
    found = _HEADER.search(rest)
    if found is None:
        raise SpamdError(f"SpamAssassin at {host}:{port} gave no score")
    rules = rest.partition(b"\r\n\r\n")[2].decode("ascii", "replace").strip()
    return float(found.group(2)), float(found.group(3)), [r for r in rules.split(",") if r]


def check(setup: SendingSetup, settings: Settings) -> list[Finding]:
    host = settings.spamassassin_host
    if not host:
        return [skipped("spam_score", "no spam score: no SpamAssassin configured (BULKMAIL_SPAMASSASSIN_HOST)")]
    try:
        score, threshold, rules = ask_spamd(host, settings.spamassassin_port, setup.message)
    except SpamdError as exc:
        return [warning("spam_score", str(exc), "start spamd, or correct BULKMAIL_SPAMASSASSIN_HOST and _PORT")]
    hit = ", ".join(rules) or "none"
    if score >= threshold:
        return [
            problem(
                "spam_score",
                f"SpamAssassin scores the message {score:g}, at or above its spam threshold {threshold:g}"
                f" (rules hit: {hit})",
                "change what the named rules match in the subject and bodies, then check again",
            )
        ]
    return [ok("spam_score", f"SpamAssassin scores the message {score:g} (spam from {threshold:g}; rules hit: {hit})")]
