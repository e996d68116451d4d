"""Zoho Mail: one "address reason, ERROR_CODE :nnn, ERROR_CODE :text" line per recipient
(or "This message was created automatically by mail delivery software." and Exim-like)."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import MULTILINE, lazy
from ..report import Report, clean_address

NAME = "zoho"
_LINE = lazy(r"^[ \t]*<?([^<>\s,@]{1,128}@[^<>\s,@]{1,255}?)>?[ \t]+(.*?ERROR_CODE[ \t]*:.*)$", MULTILINE)
_CODE_LABEL = lazy(r"ERROR_CODE[ \t]*:[ \t]*,?")
_CODE_COMMA = lazy(r"^([245]\d\d),")
_CODE_VALUE = lazy(r"ERROR_CODE[ \t]*:[ \t]*([245]\d\d)\b")


def detect(rep: Report) -> bool:
    zoho = bool(rep.mail.header("x-zohomail")) or "zoho" in rep.from_.lower()
    return zoho and "ERROR_CODE" in rep.text[:4000]


def parse(rep: Report) -> list[Entry]:
    out = []
    for m in _LINE.finditer(rep.text):
        addr = clean_address(m.group(1))
        if not addr:
            continue
        # "<Zoho's label>, ERROR_CODE :<reply>, ERROR_CODE :<the server's text>": the label ("Invalid
        # Address", "Error") is Zoho's summary of the reply, so the diagnostic is the reply itself
        label, _, answer = m.group(2).partition("ERROR_CODE")
        diag = _CODE_LABEL.sub("", "ERROR_CODE" + answer).replace(" ,", "").strip(" ,")
        diag = _CODE_COMMA.sub(lambda m: m.group(1), diag)
        diag = diag if diag.strip(" ,0123456789") else f"{diag} {label.strip(' ,')}".strip()
        code = _CODE_VALUE.search(m.group(2))
        low = diag.lower()
        reason = "expired" if "host not reachable" in low or "timed out" in low else ""
        out.append(
            Entry(recipient=addr, action="failed", diagnostic=diag, reply=code.group(1) if code else "", reason=reason)
        )
    return out
