"""Microsoft Exchange 2007 and later, Exchange Online / Office 365, when the NDR carries no
usable delivery-status part: "Delivery has failed to these recipients or groups:", then
"Diagnostic information for administrators:", "Generating server: ...", and per recipient
the address and "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##" or "Remote Server
returned '550 ...'". Localised NDRs keep this layout, so it is read by shape."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import bounce_like, dsn_has_recipient

NAME = "exchange2007"
_GENERATING = lazy(
    r"^[ \t]*(?:Generating server|Generierender Server|Serveur de g[ée]n[ée]ration|Servidor de generaci[óo]n|"
    r"Server di generazione|Server generatore|Genererende server|Genererande server|Servidor gerador|"
    r"Serwer generuj[aą]cy|Generující server|Genererende server|Luova palvelin)[ \t]*:[^\n]*$",
    IGNORECASE | MULTILINE,
)
_FAILED = lazy(
    r"^[ \t]*(?:Delivery has failed to these recipients|Your message to \S+ couldn't be delivered)",
    IGNORECASE | MULTILINE,
)
_STOP = lazy(
    r"^[ \t]*(?:Original message headers|Urspr[üu]ngliche Nachrichtenkopfzeilen|"
    r"En-t[êe]tes de message d'origine|Encabezados del mensaje original|"
    r"Intestazioni originali del messaggio|Received:|Return-Path:)",
    IGNORECASE | MULTILINE,
)
_ADDR = lazy(r"^[ \t]*(?:[^<>\n]*<mailto:)?([^<>\s'\"@]{1,128}@[^<>\s'\"@]{1,255}?)>?[ \t]*$")
_LISTED = lazy(
    r"<mailto:([^<>\s@]{1,128}@[^<>\s@]{1,255})>|^[ \t]*<?([^<>\s'\"@]{1,128}@[^<>\s'\"@]{1,255}?)>?[ \t]*$", MULTILINE
)
_RETURNED = lazy(r"Remote Server returned '([^']*)'?|(#[245]\d\d[ -][^\n]*?##?)", IGNORECASE)
_YOUR_MESSAGE_TO = lazy(r"[ \t]*Your message to ([^\s@]{1,128}@[^\s@]{1,255}?) couldn't")


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    head = rep.text[:8000]
    # every localisation says "diagnos..." (Diagnostic information, Diagnoseinformationen, ...)
    if "iagnos" not in head and "Delivery has failed" not in head and "couldn't be delivered" not in head:
        return False
    return bool(_GENERATING.search(head) or _FAILED.search(head)) and not dsn_has_recipient(rep)


def parse(rep: Report) -> list[Entry]:
    text = rep.text
    entries: list[Entry] = []
    g = _GENERATING.search(text)
    if g:
        rest = text[g.end() :]
        e = _STOP.search(rest)
        cur: Entry | None = None
        for line in (rest[: e.start()] if e else rest[:4000]).split("\n"):
            m = _ADDR.match(line)
            addr = clean_address(m.group(1)) if m else ""
            if addr:
                cur = Entry(recipient=addr, action="failed", remote_mta=g.group(0).split(":", 1)[1].strip())
                entries.append(cur)
            elif cur is not None and line.strip():
                s = line.strip()
                r = _RETURNED.search(s)
                cur.diagnostic = (cur.diagnostic + " " + (r.group(1) or r.group(2) if r else s)).strip()
    if not entries:
        f = _FAILED.search(text)
        if f:
            block = text[f.start() :].split("\n\n\n", 1)[0][:3000]
            named = _YOUR_MESSAGE_TO.match(block)
            if named and clean_address(named.group(1)):
                entries.append(Entry(recipient=clean_address(named.group(1)), action="failed"))
            for m in _LISTED.finditer(block):
                addr = clean_address(m.group(1) or m.group(2))
                if addr and all(x.recipient != addr for x in entries):
                    entries.append(Entry(recipient=addr, action="failed"))
    if entries and not any(x.diagnostic for x in entries):
        f = _FAILED.search(text)
        explain = text[f.end() : f.end() + 1500] if f else ""
        for x in entries:
            x.diagnostic = " ".join(explain.split())
    return entries
