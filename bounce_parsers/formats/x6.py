"""An unnamed relay style ("X6" in sisimai's catalogue): "We had trouble delivering your
message. Full details follow:" and "The following recipients returned permanent errors:
address. Reason: ..."."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, MULTILINE, lazy
from ..report import Report, clean_address
from ._base import bounce_like

NAME = "x6"
_LINE = lazy(
    r"The following recipients? returned (permanent|temporary|transient) errors?:[ \t]*(.+)$", IGNORECASE | MULTILINE
)
_ADDR = lazy(r"<?([^<>\s,;@]{1,128}@[^<>\s,;@]{1,255}?)>?(?:[.,;][ \t]|[ \t]|$)")


def detect(rep: Report) -> bool:
    if not bounce_like(rep):
        return False
    return "returned permanent error" in rep.text[:4000] or "returned temporary error" in rep.text[:4000]


def parse(rep: Report) -> list[Entry]:
    out = []
    for m in _LINE.finditer(rep.text):
        rest = m.group(2)
        pos = rest.find("Reason:")
        names = rest[:pos] if pos >= 0 else rest
        diag = rest[pos + 7 :].strip() if pos >= 0 else ""
        for am in _ADDR.finditer(names):
            addr = clean_address(am.group(1))
            if addr:
                out.append(
                    Entry(
                        recipient=addr,
                        diagnostic=diag,
                        action="failed" if m.group(1).lower() == "permanent" else "delayed",
                    )
                )
    return out
