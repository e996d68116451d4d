"""L-Soft LSMTP (the MTA beside LISTSERV): one block per recipient of "Error-for:",
"Error-Code:" (the reply's class digit) and "Error-Text:" (the reply itself, which may
continue on indented lines and says the class again), closed by "Error-End:". The blocks are
read up to that line: three field lines in a row look like a returned header block."""

from __future__ import annotations

from ..entry import Entry
from ..patterns import IGNORECASE, lazy
from ..report import Report, clean_address
from ._base import bounce_like

NAME = "lsoft"
_FIELD = lazy(r"^[ \t]*Error-(for|Code|Text)[ \t]*:[ \t]*(.*)$", IGNORECASE)


def detect(rep: Report) -> bool:
    return "error-for:" in rep.text[:8000].lower() and bounce_like(rep)  # LSMTP versions differ in case


def parse(rep: Report) -> list[Entry]:
    entries: list[Entry] = []
    cur: Entry | None = None
    last = ""
    text = rep.text
    end = text.lower().find("error-end:")
    for line in (text[:end] if end >= 0 else rep.error_text()).split("\n"):
        m = _FIELD.match(line)
        if m:
            last, value = m.group(1).lower(), m.group(2).strip()
            if last == "for":
                addr = clean_address(value)
                cur = Entry(recipient=addr, action="failed") if addr else None
                if cur is not None:
                    entries.append(cur)
            elif cur is not None and last == "text":
                cur.diagnostic = value
            continue
        if cur is not None and last == "text" and line[:1] in (" ", "\t") and line.strip():
            cur.diagnostic += " " + line.strip()
        else:
            last = ""
    return entries
