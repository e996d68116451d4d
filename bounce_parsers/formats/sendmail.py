"""Sendmail's plain-text returns (V8 without a usable DSN part, V5 sendmail) and the many
MTAs that copy its layout (Active!Hunter, BIGLOBE, Mail2000, InterScan, ...):
"----- The following addresses had permanent fatal errors -----", the addresses, then
"----- Transcript of session follows -----" with ">>> RCPT To:<a>" / "<<< 550 ..." and
"550 <a>... User unknown" lines."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import bounce_like, dsn_has_recipient, returned_to

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

NAME = "sendmail"
_ADDRESSES = lazy(
    r"^[ \t]*-*[ \t]*The following addresses? (?:had|has) ([a-z -]{0,60}?(?:errors?|problems?))"
    r"[ \t]*-*[ \t]*$",
    IGNORECASE | MULTILINE,
)
_TRANSCRIPT = lazy(r"^[ \t]*-{3,}[ \t]*Transcript of session follows[ \t]*-{3,}[ \t]*$", IGNORECASE | MULTILINE)
_MARKER = lazy(r"^[ \t]*-{3,}", MULTILINE)
_INFO = lazy(
    r"^[ \t]*-{3,}[ \t]*(?:Non-delivered information|Error description|Reason)[ \t]*-*[ \t]*$", IGNORECASE | MULTILINE
)
_UNSENT = lazy(
    r"^[ \t]*-{3,}[ \t]*(?:Unsent message follows|Original message follows|"
    r"Returned message|Original message)",
    IGNORECASE | MULTILINE,
)
_ANGLE = lazy(r"<([^<>\s@]{1,128}@[^<>\s@]{1,255})>")
_RCPT = lazy(r"^>>> RCPT TO:[ \t]*<?([^<>\s@]{1,128}@[^<>\s@]{1,255})>?", IGNORECASE)
_AT_ADDR = lazy(
    r"^(?:[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3} )?)?<?([^<>\s@]{1,128}@[^<>\s@]{1,255}?)>?\.\.\.[ \t]*(.*)$"
)


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    text = rep.text
    if "Transcript of session follows" not in text and "The following address" not in text:
        return False
    if not (_ADDRESSES.search(text) or _TRANSCRIPT.search(text)):
        return False
    return not dsn_has_recipient(rep)


def _block(text: str, start: re.Match[str]) -> str:
    rest = text[start.end() :]
    m = _MARKER.search(rest)
    return rest[: m.start()] if m else rest


_LISTED = lazy(r"^<?([^<>\s\"=;,@]{1,128}@[^<>\s\"=;,@]{1,255}?)>?(?:[ \t,]|$)")


# savemail.c lists what an alias expanded to, then "(expanded from: ALIAS)": the alias is the
# address the mail was sent to; the expansion may be a program or a file, not an address at all
_EXPANDED = lazy(r"^\(expanded from:?[ \t]*<?([^<>()\s@]{1,128}@[^<>()\s@]{1,255}?)>?\)$", IGNORECASE)
_PROGRAM = lazy(r'^"?[|/]')
_REPLY_START = lazy(r"[245]\d\d[ -]")


def _listed(block: str) -> list[Entry]:
    entries: list[Entry] = []
    for line in block.split("\n"):
        s = line.strip().lstrip(">").strip()
        if not s:
            if entries:
                break
            continue
        x = _EXPANDED.match(s)
        if x and entries and clean_address(x.group(1)):
            # keep the expansion as the alias: the transcript speaks of it
            entries[-1].alias, entries[-1].recipient = entries[-1].recipient, clean_address(x.group(1))
            continue
        if _PROGRAM.match(s):
            entries.append(Entry(recipient="", action="failed", diagnostic=""))
            continue
        m = _LISTED.match(s)
        addr = clean_address(m.group(1)) if m else ""
        if addr:
            rest = s[m.end() :].strip() if m else ""
            rest = rest[1:-1] if rest[:1] in "[(" and rest[-1:] in "])" else rest
            if _ANGLE.fullmatch(rest):
                rest = ""
            entries.append(Entry(recipient=addr, action="failed", diagnostic=rest))
        elif entries:
            extra = s[1:-1] if s[:1] == "(" and s[-1:] == ")" else s
            extra = extra[7:].strip() if extra.lower().startswith("reason:") else extra
            entries[-1].diagnostic = (entries[-1].diagnostic + " " + extra).strip()
    return entries


def _transcript(block: str) -> tuple[dict[str, list[str]], dict[str, str], list[str]]:
    """Per-address error lines, per-address SMTP command, and lines naming no address."""
    per: dict[str, list[str]] = {}
    commands: dict[str, str] = {}
    general: list[str] = []
    cur = ""
    # a refused MAIL/DATA/HELO of the current session ("While talking to host:"), not yet
    # claimed: the next "<addr>... error" line is the recipient it failed
    pending: list[str] = []
    pending_command = ""
    for line in block.split("\n"):
        s = line.strip()
        if not s:
            continue
        if s.lower().startswith(("while talking to", "... while talking to")):
            pending, pending_command = [], ""
        m = _RCPT.match(s)
        if m:
            cur = clean_address(m.group(1))
            commands[cur.lower()] = "RCPT"
            pending, pending_command = [], ""
            continue
        if s.startswith(">>>"):
            cur = ""
            word = s[3:].strip().split(" ", 1)[0].upper()
            if word in ("DATA", "MAIL", "HELO", "EHLO"):
                general.append(s)
                pending, pending_command = [s[3:].strip()], word
            continue
        if s.startswith("<<<"):
            (per.setdefault(cur.lower(), []) if cur else general).append(s[3:].strip())
            if not cur and pending:
                pending.append(s[3:].strip())
            continue
        m = _AT_ADDR.match(s)
        if m and "@" in m.group(1):
            addr = clean_address(m.group(1))
            if addr:
                lines = per.setdefault(addr.lower(), [])
                if pending_command and len(pending) > 1 and not lines:
                    lines.extend(pending)
                    commands.setdefault(addr.lower(), pending_command)
                    pending, pending_command = [], ""
                lines.append(s)
                continue
        if _REPLY_START.match(s) or general:
            general.append(s)
    return per, commands, general


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    cut = _UNSENT.search(text)
    text = text[: cut.start()] if cut else text
    entries: list[Entry] = []
    delayed = False
    for m in _ADDRESSES.finditer(text):
        entries += [e for e in _listed(_block(text, m)) if e.recipient]
        delayed = delayed or "transient" in m.group(1).lower()
    if not entries and rep.original:
        inner = rep.original
        for m in _ADDRESSES.finditer(inner[:20000]):
            entries += _listed(_block(inner, m))
    per: dict[str, list[str]] = {}
    commands: dict[str, str] = {}
    general: list[str] = []
    t = _TRANSCRIPT.search(text)
    if t:
        per, commands, general = _transcript(_block(text, t))
    info = _INFO.search(text)
    if info:
        general.append(_block(text, info).strip())
    if not entries:
        entries = [Entry(recipient=clean_address(a), action="failed") for a in per if a]
    if not entries:
        addr = returned_to(rep)
        entries = [Entry(recipient=addr, action="failed")] if addr else []
    if delayed or "warning: could not send" in rep.subject.lower():
        for e in entries:
            e.action = "delayed"
    for e in entries:
        low = e.recipient.lower()
        lines = per.get(low) or per.get(e.alias.lower())
        if lines:
            e.diagnostic = " ".join(lines)
        elif not e.diagnostic or len(entries) == 1 and general:
            e.diagnostic = (e.diagnostic + " " + " ".join(general)).strip()
        e.command = commands.get(low) or commands.get(e.alias.lower(), "")
        if not e.diagnostic and rep.subject.lower().startswith("returned mail:"):
            e.diagnostic = rep.subject[14:].strip()  # "Returned mail: User unknown"
    return [e for e in entries if e.recipient]
