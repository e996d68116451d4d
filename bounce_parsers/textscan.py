"""Last resort for plain-text bounces of MTAs without a module: a bounce-looking sender or
subject, recipient addresses standing on their own lines in the explanation, and the
lines that follow each of them as its diagnostic. Kept strict so that ordinary mail that
merely quotes an address is not mistaken for a bounce."""

from __future__ import annotations

from .entry import Entry
from .patterns import IGNORECASE, MULTILINE, lazy
from .report import ADDRESS, Report, clean_address
from .smtp import transcript_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

NAME = "text"

BOUNCE_FROM = lazy(
    r"mailer-daemon|postmaster|mail ?delivery|mail administrator|mailer daemon|mdaemon|"
    r"system administrator|mail delivery subsystem|mail delivery system",
    IGNORECASE,
)
BOUNCE_SUBJECT = lazy(
    r"undeliver|delivery status notification|delivery fail|failure notice|returned mail|"
    r"mail delivery (?:failed|problem|error)|could not be delivered|delivery problem|non-?delivery|"
    r"undelivered|mail system error|delivery report|nicht zustellbar|unzustellbar|non remis|"
    r"non recapitabile|no se pudo entregar|delivery notification|failed delivery|message not delivered|"
    r"returned to sender|delivery error|mail failure|rejected|warning: could not send|unable to deliver",
    IGNORECASE,
)
_ADDR = r"<?([A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\"]+@[A-Za-z0-9][A-Za-z0-9\-.]*[A-Za-z0-9])>?"
# an address that starts a line, alone or followed by a colon / an explanation / the next column (a tab)
_ADDR_LINE = lazy(
    r"^[ \t]*(?:[-*>]+[ \t]*)?(?:\"[^\"]*\"[ \t]*)?"
    + _ADDR
    + r"(?:[ \t]*:|[ \t]*\([^)]*\)|[ \t]+on[ \t]|[ \t]*$|[ \t]+(?:[.:;,-]|said|failed|is|was|unknown)|[ ]*\t)",
    MULTILINE,
)
_LABELLED = lazy(
    r"^[ \t]*(?:failed recipient|recipient(?: address)?|rcpt to|original recipient|"
    r"invalid recipient|unknown recipient|destinataire)[ \t]*:[ \t]*" + _ADDR,
    IGNORECASE | MULTILINE,
)
# an address inside a line, in a context that names it as the failed one
_IN_LINE = lazy(
    r"<([^<>\s@]{1,128}@[^<>\s@]{1,255})>"
    r"|(?:unknown|invalid|bad|failed|undeliverable|no such)[^:\n]{0,25}:[ \t]*"
    + _ADDR
    + r"|(?:rcpt to|recipient|mailbox|delivering your mail to|deliver(?:ed)? to|could not be delivered to|"
    r"not delivered to|delivery to|addressed to)[ \t:]*\(?" + _ADDR,
    IGNORECASE,
)
# a warning that delivery is still being tried, not a failure (Sendmail, MDaemon, Exchange, ...)
_DELAY = lazy(
    r"\bdelayed\b|still (?:being retried|undelivered)|not yet been delivered|"
    r"this is a warning message only|will (?:continue to |keep )?(?:re)?try(?:ing)?\b",
    IGNORECASE,
)
# a header naming a message, at a line's start or after a transcript's time stamp and "*"
_ID_LINE = lazy(r"(?:^|[ \t*])(?:message-id|in-reply-to|references|content-id|x-[a-z-]*id)[ \t]*:", IGNORECASE)
_SENDER_CONTEXT = lazy(r"(?:mail from|envelope-from|from:|sender|return-path)[ \t:]*<?$", IGNORECASE)


def looks_like_bounce(rep: Report) -> bool:
    # a delivery-status part is a machine's report whatever its subject's language
    return bool(
        BOUNCE_SUBJECT.search(rep.subject)
        or BOUNCE_FROM.search(rep.from_)
        or rep.mail.header("x-failed-recipients")
        or rep.has_ds
    )


def own_addresses(rep: Report) -> set[str]:
    """Addresses of the bounce itself (its sender and its addressee) are never recipients."""
    own: set[str] = set()
    for name in ("from", "to", "return-path", "reply-to", "sender"):
        for value in rep.mail.headers.get(name, [])[:1]:
            for m in ADDRESS.finditer(value):
                own.add(clean_address(m.group(0)).lower())
    return own


def _block_after(lines: list[str], i: int, stop: re.Pattern[str]) -> str:
    """Lines after line i up to the next recipient line; skips one run of blank lines."""
    out: list[str] = []
    blanks = 0
    for line in lines[i + 1 : i + 40]:
        if not line.strip():
            if out:
                blanks += 1
                if blanks >= 2 or len(out) >= 3:
                    break
            continue
        if stop.match(line):
            break
        out.append(line.strip())
    return " ".join(out)


def _senders(rep: Report) -> set[str]:
    """The original's author: quoted in the explanation, but never a failed recipient."""
    out: set[str] = set()
    head = rep.returned_headers()
    for name in ("from", "return-path", "sender", "reply-to"):
        for value in head.get(name, []):
            for m in ADDRESS.finditer(value):
                out.add(clean_address(m.group(0)).lower())
    return out


def _candidates(line: str) -> list[tuple[str, int]]:
    """(address, end offset) for each recipient-looking address in one line."""
    m = _LABELLED.match(line) or _ADDR_LINE.match(line)
    if m:
        return [(m.group(1), m.end())]
    found = []
    for m in _IN_LINE.finditer(line):
        addr = next((g for g in m.groups() if g), "")
        if addr and not _SENDER_CONTEXT.search(line[: m.start()]):
            found.append((addr, m.end()))
    return found


MAX_UNLABELLED = 3


def _returned_recipients(rep: Report) -> list[str]:
    """The returned original's To/Cc addresses, lower-cased."""
    out: list[str] = []
    head = rep.returned_headers()
    for name in ("to", "cc"):
        for value in head.get(name, []):
            for m in ADDRESS.finditer(value):
                low = clean_address(m.group(0)).lower()
                if low and low not in out:
                    out.append(low)
    return out


def _unlabelled(rep: Report, text: str, skip: set[str]) -> list[str]:
    """A delivery-status report whose status part names no recipient and whose text names
    the address only inside a sentence, in any language ("Il messaggio per a@b non è stato
    recapitato"): the few addresses its explanation mentions, preferring those the returned
    original was sent to; one that names nobody at all failed for the original's addressee."""
    found: dict[str, str] = {}  # lower-cased -> as written
    for m in ADDRESS.finditer(text):
        addr = clean_address(m.group(0))
        low = addr.lower()
        if not addr or low in skip or low.startswith(("postmaster@", "mailer-daemon@")) or low in found:
            continue
        if text[max(0, m.start() - 1) : m.start()] in ("/", "=", ":"):
            continue  # part of a link or a parameter, not a mailbox named in prose
        found[low] = addr
    sent_to = _returned_recipients(rep)
    both = [addr for low, addr in found.items() if low in sent_to]
    if both:
        return both
    if found:
        return list(found.values()) if len(found) <= MAX_UNLABELLED else []
    return sent_to[:1]


def parse(rep: Report) -> list[Entry]:
    if not looks_like_bounce(rep):
        return []
    text = rep.error_text()
    skip = own_addresses(rep) | _senders(rep)
    failed = [clean_address(a) for v in rep.mail.headers.get("x-failed-recipients", []) for a in v.split(",")]
    lines = text.split("\n")
    entries: dict[str, Entry] = {}
    for i, line in enumerate(lines):
        if "@" not in line or _ID_LINE.search(line):
            continue
        for raw, end in _candidates(line):
            addr = clean_address(raw)
            low = addr.lower()
            if not addr or low in skip or low.startswith(("postmaster@", "mailer-daemon@")):
                continue
            diag = (line[end:].strip(" :.") + " " + _block_after(lines, i, _ADDR_LINE)).strip()
            if addr in entries:
                if diag and not entries[addr].diagnostic:
                    entries[addr].diagnostic = diag
                continue
            entries[addr] = Entry(recipient=addr, diagnostic=diag, action="failed")
    for addr in failed:
        if addr and addr not in entries:
            entries[addr] = Entry(recipient=addr, action="failed")
    if not entries and rep.has_ds:
        entries = {a: Entry(recipient=a, action="failed") for a in _unlabelled(rep, text, skip)}
    if not entries:
        return []
    if _DELAY.search(rep.subject) or _DELAY.search(text[:3000]):
        for e in entries.values():
            e.action = "delayed"
    body = " ".join(ln.strip() for ln in lines if ln.strip())
    _from_transcript(text, entries)
    for e in entries.values():
        if not e.diagnostic or e.diagnostic == e.recipient or len(entries) == 1:
            e.diagnostic = (e.diagnostic + " " + body)[:1000] if len(entries) == 1 else body[:1000]
    return list(entries.values())


def _from_transcript(text: str, entries: dict[str, Entry]) -> None:
    """A session transcript's first error reply is the diagnostic of the recipient it names (or
    of the only recipient), answering the command sent before it: the explanation's first
    mention of the address is often the transcript's echo of the envelope, not the error."""
    command, reply = transcript_error(text)
    if not reply:
        return
    low = reply.lower()
    for e in entries.values():
        if len(entries) == 1 or e.recipient.lower() in low:
            e.command = e.command or command
            if reply not in e.diagnostic:
                e.diagnostic = (reply + " " + e.diagnostic).strip()
