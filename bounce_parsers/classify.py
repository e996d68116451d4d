"""classify(raw) -> Classification: the one entry point the sweep calls."""

from __future__ import annotations

from . import arf, autoreply, challenge, gateway, rfc3464, smtp, textscan, unsubscribe
from .entry import Entry
from .formats import REGISTRY
from .message import MAX_BYTES, parse
from .patterns import IGNORECASE, MULTILINE, lazy, lazy_bytes
from .reasons import REPLY_REASON, find, is_hard
from .reasons.providers import provider_reason
from .report import ADDRESS, Report, clean_address, first_address

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

HEADER_CAMPAIGN = "X-Bulkmail-Campaign"
HEADER_DELIVERY = "X-Bulkmail-Delivery"
MAX_DIAGNOSTIC = 1000
MAX_ORIGINAL_HEADERS = 16_000

_MSGID = lazy(r"^message-id:[ \t]*(?:\n[ \t]+)?<?([^<>\s]+)>?", IGNORECASE | MULTILINE)
_CAMPAIGN = lazy(r"^" + HEADER_CAMPAIGN + r":[ \t]*(\S+)", IGNORECASE | MULTILINE)
_DELIVERY = lazy(r"^" + HEADER_DELIVERY + r":[ \t]*(\S+)", IGNORECASE | MULTILINE)
_PLUS = lazy(r"\+([^@\s+<>]+)@")


class _Frozen:
    """An immutable record compared by value: what a frozen dataclass gives, written out
    because importing dataclasses and building the classes cost ~8 ms of every process start."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        return self._values() == other._values() if other.__class__ is self.__class__ else NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields) + ")"

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return type(self), self._values()


class Recipient(_Frozen):
    __slots__ = _fields = ("address", "status", "reply", "reason", "hard", "diagnostic", "remote_mta", "action")
    address: str
    status: str
    reply: str
    reason: str
    hard: bool
    diagnostic: str
    remote_mta: str
    action: str

    def __init__(
        self,
        address: str,
        status: str,
        reply: str,
        reason: str,
        hard: bool,
        diagnostic: str,
        remote_mta: str,
        action: str,
    ) -> None:
        put = object.__setattr__
        put(self, "address", address)
        put(self, "status", status)
        put(self, "reply", reply)
        put(self, "reason", reason)
        put(self, "hard", hard)
        put(self, "diagnostic", diagnostic)
        put(self, "remote_mta", remote_mta)
        put(self, "action", action)


class Classification(_Frozen):
    __slots__ = _fields = (
        "kind",
        "recipients",
        "evidence",
        "original_message_id",
        "campaign_id",
        "delivery_id",
        "verp_tokens",
        "subject",
        "from_address",
        "original_headers",
    )
    kind: str
    recipients: tuple[Recipient, ...]
    evidence: str
    original_message_id: str | None
    campaign_id: str | None
    delivery_id: str | None
    verp_tokens: tuple[str, ...]
    subject: str
    from_address: str
    original_headers: str  # the returned original's header block, for people to read (capped)

    def __init__(
        self,
        kind: str,
        recipients: tuple[Recipient, ...],
        evidence: str,
        original_message_id: str | None,
        campaign_id: str | None,
        delivery_id: str | None,
        verp_tokens: tuple[str, ...],
        subject: str,
        from_address: str,
        original_headers: str,
    ) -> None:
        put = object.__setattr__
        put(self, "kind", kind)
        put(self, "recipients", recipients)
        put(self, "evidence", evidence)
        put(self, "original_message_id", original_message_id)
        put(self, "campaign_id", campaign_id)
        put(self, "delivery_id", delivery_id)
        put(self, "verp_tokens", verp_tokens)
        put(self, "subject", subject)
        put(self, "from_address", from_address)
        put(self, "original_headers", original_headers)


def _collapse(text: str) -> str:
    # whitespace runs to one space: str.split() splits where re's \s matches (str.isspace)
    return " ".join(text.split())[:MAX_DIAGNOSTIC]


# words with which a report passes on another server's reply
_RELAY_WORDS = ("said:", "said ", "remote host", "remote server", "remote mail server", "failed with", "talking to")


def _source(e: Entry, diag: str) -> str:
    """Who gave the answer: a filtering gateway, a server the reporter relays, or the reporter."""
    if e.gateway:
        return "gateway"
    if e.remote_mta:
        return "relay"
    low = diag.lower()
    return "relay" if any(w in low for w in _RELAY_WORDS) else ""


def finish(e: Entry) -> Recipient:
    """Fill in what the report left implicit and decide the reason."""
    diag = _collapse(e.diagnostic)
    status = e.status if smtp.is_status(e.status) else ""
    reply = e.reply if e.reply.isdigit() and len(e.reply) == 3 else ""
    reply = reply or smtp.find_reply(diag, status)
    in_text = smtp.find_status(diag, reply)
    status = smtp.prefer(status, in_text, reply) if in_text else status
    command = e.command or smtp.find_command(diag)
    action = e.action or ("delivered" if status.startswith("2.") else "failed")
    # the remote host, the reporter, and the recipient's domain (whose provider answered)
    hosts = f"{e.remote_mta} {e.reporter} {e.recipient.rpartition('@')[2]}"
    provider = provider_reason(hosts, diag, status, reply) if action != "delivered" else ""
    preset = e.reason or provider
    if preset == "feedback":
        return Recipient(e.recipient, "", "", "feedback", False, diag, e.remote_mta, "")
    if action in ("delivered", "relayed", "expanded") and not preset:
        reason = "delivered"
    else:
        # a provider's documented code is authoritative; a format's own guess is re-checked
        reason = provider or find(
            status, reply, command, diag, e.diagnostic_type or "SMTP", action, preset, _source(e, diag)
        )
        if reason in ("onhold", "undefined") and reply in REPLY_REASON:
            reason = REPLY_REASON[reply]
    if action == "expired":
        action = "delayed" if reason == "expired" and not status.startswith("5") else "failed"
    hard = is_hard(reason, status, reply)
    return Recipient(e.recipient, status, reply, reason, hard, diag, e.remote_mta, action)


def _verp_tokens(rep: Report, envelope_id: str) -> tuple[str, ...]:
    tokens: list[str] = []
    for name in ("delivered-to", "x-original-to", "to", "envelope-to"):
        for value in rep.mail.headers.get(name, []):
            for m in ADDRESS.finditer(value):
                for t in _PLUS.findall(m.group(0) + "@"):
                    if t not in tokens:
                        tokens.append(t)
    if envelope_id and envelope_id not in tokens:
        tokens.append(envelope_id)
    return tuple(tokens)


def _field(pattern: re.Pattern[str], text: str, low: str, name: str) -> str | None:
    """The value of a header field quoted in `text`; a plain find on the lower-cased text
    first, so the case-insensitive regex runs only at a line that names the field."""
    pos = low.find(name)
    while pos >= 0:
        if pos == 0 or text[pos - 1] == "\n":
            m = pattern.match(text, pos)
            if m:
                return m.group(1)
        pos = low.find(name, pos + 1)
    return None


def _original_ids(rep: Report) -> tuple[str | None, str | None, str | None]:
    text = rep.returned()
    mid = camp = deliv = None
    if text:
        low = text.lower()
        mid = _field(_MSGID, text, low, "message-id:")
        if "x-bulkmail-" in low:
            camp = _field(_CAMPAIGN, text, low, "x-bulkmail-campaign:")
            deliv = _field(_DELIVERY, text, low, "x-bulkmail-delivery:")
    if camp is None or deliv is None:
        # some MTAs quote the original's headers in the explanation instead
        whole = rep.text
        low = whole.lower()
        if "x-bulkmail-" in low:
            camp = camp or _field(_CAMPAIGN, whole, low, "x-bulkmail-campaign:")
            deliv = deliv or _field(_DELIVERY, whole, low, "x-bulkmail-delivery:")
    return mid, camp, deliv


def _result(
    rep: Report,
    kind: str,
    recipients: list[Recipient],
    evidence: str,
    envelope_id: str = "",
    original_id: str | None = None,
) -> Classification:
    mid, camp, deliv = _original_ids(rep)
    return Classification(
        kind=kind,
        recipients=tuple(recipients),
        evidence=evidence,
        original_message_id=mid or original_id,
        campaign_id=camp,
        delivery_id=deliv,
        verp_tokens=_verp_tokens(rep, envelope_id),
        subject=rep.subject,
        from_address=first_address(rep.from_),
        original_headers=rep.returned_header_text()[:MAX_ORIGINAL_HEADERS],
    )


_MARKER_LINE = lazy(r"^[ \t]*-{3,}[^\n]*$", MULTILINE)


def _paragraph_of(text: str, addr: str, low: str = "") -> str:
    """The lines around the first mention of an address in the explanation that says more
    than the address itself (Sendmail lists the address, then explains it in the transcript).
    `low` is text.lower() when the caller has it already."""
    if not addr:
        return ""
    low = low or text.lower()
    needle = addr.lower()
    first = ""
    pos = low.find(needle)
    for _ in range(4):
        if pos < 0:
            break
        start = text.rfind("\n\n", 0, pos)
        end = text.find("\n\n", pos)
        para = text[start + 1 if start >= 0 else 0 : end if end >= 0 else len(text)]
        rest = _MARKER_LINE.sub("", para.replace(addr, "").replace(needle, "")).strip(" \t\n<>")
        if len(rest) > 3:
            return para
        first = first or para
        if end < 0:
            break
        pos = low.find(needle, end)
    return first


def _transcript_command(text: str, e: Entry) -> str:
    """The command a Sendmail-style session transcript (">>> DATA", "<<< 550 ...") shows the
    diagnostic answering: the last ">>>" line before the "<<<" line that carries it."""
    if ">>> " not in text or not e.diagnostic:
        return ""
    reply = " ".join(e.diagnostic.split())[:40]
    at = text.find("<<< " + reply)
    if at < 0:
        return ""
    sent = text.rfind(">>> ", 0, at)
    return smtp.find_command(text[sent : text.find("\n", sent)]) if sent >= 0 else ""


def _enrich(rep: Report, entries: list[Entry]) -> None:
    """A DSN's fields often lack what its human-readable part says (the SMTP command,
    sometimes the whole diagnostic): borrow it from the paragraph naming the recipient."""
    text = rep.error_text()
    if not text:
        return
    low = ""
    for e in entries:
        if e.command and e.diagnostic:
            continue
        low = low or text.lower()
        para = _paragraph_of(text, e.recipient, low) or _paragraph_of(text, e.alias, low)
        if not para and len(entries) == 1:
            para = text
        if not para:
            continue
        if not e.command:
            e.command = smtp.find_command(e.diagnostic) or smtp.find_command(para) or _transcript_command(text, e)
        if not e.diagnostic:
            e.diagnostic = para


_INNER_REPORT = lazy(r"^content-type:[ \t]*multipart/report", IGNORECASE | MULTILINE)


def _inner_dsn(rep: Report, entries: list[Entry]) -> None:
    """A gateway that wraps the bounce it received (a whole multipart/report returned as
    message/rfc822) explains little itself: take status and diagnostic from the inner DSN."""
    if rep.has_ds or not rep.original or not _INNER_REPORT.search(rep.original, 0, 5000):
        return
    if all(e.status for e in entries):
        return
    _, inner = rfc3464.parse(Report(parse(rep.original)))
    by_addr = {i.recipient.lower(): i for i in inner}
    for e in entries:
        i = by_addr.get(e.recipient.lower())
        if i is None or e.status:
            continue
        e.status, e.remote_mta = i.status, e.remote_mta or i.remote_mta
        if i.diagnostic:
            e.diagnostic, e.diagnostic_type = i.diagnostic, i.diagnostic_type


def _bounce_entries(rep: Report) -> tuple[list[Entry], str, dict[str, str]]:
    for fmt in REGISTRY:
        if fmt.detect(rep):
            entries = fmt.parse(rep)
            if entries:
                _inner_dsn(rep, entries)
                return entries, f"format:{fmt.NAME}", {}
    meta, entries = rfc3464.parse(rep)
    if entries:
        _enrich(rep, entries)
        return entries, rfc3464.NAME, meta
    entries = textscan.parse(rep)
    if entries and rep.has_ds:
        # a delivery-status part that names no recipient still says what happened to them
        anon = rfc3464.unnamed(rep.ds)
        for e in entries:
            e.status, e.action = e.status or anon.status, anon.action or e.action
            e.remote_mta = e.remote_mta or anon.remote_mta
            if anon.diagnostic:
                e.diagnostic, e.diagnostic_type = anon.diagnostic, anon.diagnostic_type
    return entries, textscan.NAME, {}


def _wrapped(rep: Report) -> Report | None:
    """A gateway may return a bounce as its only content: an outer message whose returned
    message/rfc822 is itself the multipart/report, or a mailer daemon's plain-text bounce.
    Read the inner report then (never our own returned original: its sender is not a daemon)."""
    if not rep.original:
        return None
    head_end = rep.original.find("\n\n", 0, 20000)
    head_end = head_end if head_end >= 0 else min(len(rep.original), 5000)
    if _INNER_REPORT.search(rep.original, 0, head_end):
        return Report(parse(rep.original))
    inner = Report(parse(rep.original))
    return inner if textscan.BOUNCE_FROM.search(inner.from_) else None


# An mbox "From " separator line: "From sender Www Mmm dd hh:mm..." after a blank line.
_MBOX_FROM = lazy_bytes(rb"^From \S+ +[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d\d:\d\d", MULTILINE)
MAX_MBOX_MESSAGES = 20
_KIND_RANK = ("bounce", "complaint", "delivery", "autoreply", "unsubscribe", "none")


def _line_starts(raw: bytes, prefix: bytes, end: int) -> list[int]:
    """Offsets of the lines (before `end`) that begin with `prefix`: what a "^prefix" search
    under MULTILINE visits, found with bytes.find instead of a regex try at every byte."""
    found = [0] if raw.startswith(prefix) else []
    pos = raw.find(b"\n" + prefix, 0, end)
    while pos >= 0:
        found.append(pos + 1)
        pos = raw.find(b"\n" + prefix, pos + 1, end)
    return found


def _mbox_split(raw: bytes) -> list[bytes]:
    """The messages of a file holding several mails in mbox style, else [raw]."""
    if not raw.startswith(b"From "):
        return [raw]
    starts = [
        pos
        for pos in _line_starts(raw, b"From ", MAX_BYTES)
        if _MBOX_FROM.match(raw, pos, MAX_BYTES)
        and (pos == 0 or raw[max(0, pos - 4) : pos].replace(b"\r", b"").endswith(b"\n\n"))
    ]
    if len(starts) < 2 or starts[0] != 0:
        return [raw]
    starts = starts[:MAX_MBOX_MESSAGES]
    return [raw[a:b] for a, b in zip(starts, [*starts[1:], len(raw)], strict=True)]


def _merged(results: list[Classification]) -> Classification:
    """One classification for several reports: the strongest kind, every recipient of that kind."""
    best = min(results, key=lambda c: _KIND_RANK.index(c.kind) if c.kind in _KIND_RANK else len(_KIND_RANK))
    seen: dict[str, Recipient] = {}
    for c in results:
        if c.kind == best.kind:
            for r in c.recipients:
                seen.setdefault(r.address.lower(), r)
    b = best
    return Classification(
        b.kind,
        tuple(seen.values()),
        b.evidence,
        b.original_message_id,
        b.campaign_id,
        b.delivery_id,
        b.verp_tokens,
        b.subject,
        b.from_address,
        b.original_headers,
    )


def classify_mail(raw: bytes | str) -> Classification:
    """The classifier proper; may raise on a bug, which classify() turns into 'none'."""
    if isinstance(raw, bytes):
        messages = _mbox_split(raw)
        if len(messages) > 1:
            results = [_classify_one(m) for m in messages]
            # one report whose returned original merely starts with a "From " line is one message
            if sum(r.kind != "none" for r in results) > 1:
                return _merged(results)
    return _classify_one(raw)


def _classify_one(raw: bytes | str) -> Classification:
    rep = Report(parse(raw))
    if arf.detect(rep):
        recips = [
            Recipient(a, "", "", "feedback", False, _collapse(arf.feedback_type(rep)), "", "")
            for a in arf.recipients(rep)
        ]
        return _result(rep, "complaint", recips, arf.NAME)
    held = challenge.detect(rep)
    if held:
        return _result(rep, "none", [], held)
    entries: list[Entry] = []
    meta: dict[str, str] = {}
    evidence, inner = "", None
    if not _from_a_person(rep):
        entries, evidence, meta = _bounce_entries(rep)
        inner = None if entries else _wrapped(rep)
    if inner is not None:
        entries, evidence, meta = _bounce_entries(inner)
        if entries:
            rep, evidence = inner, "wrapped:" + evidence
    envelope_id = (meta.get("original-envelope-id") or "").strip()
    if entries and gateway.filtering(rep, evidence.removeprefix("wrapped:")):
        for e in entries:
            e.gateway = True
    if entries:
        seen: dict[str, Recipient] = {}
        for e in entries:
            if not e.recipient:
                continue
            r = finish(e)
            seen.setdefault(r.address.lower(), r) if r.address else None
        recips = list(seen.values())
        if recips and all(r.reason == "feedback" for r in recips):
            return _result(rep, "complaint", recips, evidence, envelope_id)
        failed = [r for r in recips if r.action not in ("delivered", "relayed", "expanded")]
        if failed:
            return _result(rep, "bounce", failed, evidence, envelope_id)
        if recips:
            return _result(rep, "delivery", recips, evidence, envelope_id)
    marker = autoreply.detect(rep)
    if marker:
        addr = first_address(rep.from_) or first_address(rep.mail.header("return-path"))
        recips = (
            [Recipient(addr, "", "", "vacation", False, _collapse(autoreply.diagnostic(rep)), "", "")] if addr else []
        )
        return _result(rep, "autoreply", recips, marker, original_id=_in_reply_to(rep))
    command = unsubscribe.detect(rep)
    if command:
        addr = first_address(rep.from_)
        recips = [Recipient(addr, "", "", "unsubscribe", False, _collapse(rep.subject), "", "")] if addr else []
        return _result(rep, "unsubscribe", recips, command, original_id=_in_reply_to(rep))
    return _result(rep, "none", [], "none")


# RFC 5322 3.6.5's "Re: " and the forward prefixes mail programs write, in their languages
_REPLY_OR_FORWARD = lazy(
    r"^\s*(?:(?:re|fwd?|aw|wg|tr|rv|sv|vs|rif|enc|doorst|antw|odp|vb|i)\s*(?:\[\d+\])?\s*:\s*)+\S", IGNORECASE
)


def _from_a_person(rep: Report) -> bool:
    """A person's reply or forward that quotes or attaches a bounce is not itself one: its
    subject carries a reply/forward prefix, its sender is no mailer daemon, and it has none of a
    bounce's own structure (no delivery-status part of its own, no X-Failed-Recipients)."""
    if ":" not in rep.subject[:40] or rep.has_ds or rep.mail.header("x-failed-recipients"):
        return False
    if not _REPLY_OR_FORWARD.match(rep.subject):
        return False
    if rep.mail.header("return-path").strip() == "<>" or rep.mail.header("auto-submitted").lower().startswith("auto-"):
        return False  # RFC 5321 4.5.5 / RFC 3834: a null sender or an automatic message is no person's forward
    return textscan.BOUNCE_FROM.search(rep.from_) is None and not _machine_sender(rep.from_)


# local parts that name a mail system, not a person ("post_master@", "bounces@", "noreply@")
_MACHINE_LOCAL: tuple[str, ...] = ("postmaster", "post_master", "mailer", "daemon", "bounce", "noreply", "no-reply")
_MACHINE_LOCAL += ("donotreply", "do-not-reply", "notif", "root", "nobody")


def _machine_sender(from_: str) -> bool:
    for token in from_[:2000].replace("<", " ").replace(">", " ").split():
        local, at, _ = token.rpartition("@")
        if at and any(word in local.lower() for word in _MACHINE_LOCAL):
            return True
    return False


_ANGLED = lazy(r"<([^<>\s]+)>")


def _in_reply_to(rep: Report) -> str | None:
    """The Message-ID a person's (or their mail program's) answer refers to."""
    m = _ANGLED.search(rep.mail.header("in-reply-to"))
    return m.group(1) if m else None


def classify(raw: bytes) -> Classification:
    """Classify one raw message. Never raises: a parser bug yields kind 'none'."""
    try:
        return classify_mail(raw if isinstance(raw, bytes | str) else bytes(raw))
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises"
        return Classification("none", (), f"error:{type(exc).__name__}", None, None, None, (), "", "", "")


__all__ = [
    "HEADER_CAMPAIGN",
    "HEADER_DELIVERY",
    "Classification",
    "Recipient",
    "classify",
    "classify_mail",
    "clean_address",
]
