"""Registry of non-standard bounce formats, one module per MTA or provider.

Every module has the same shape:
    NAME: str
    detect(rep: Report) -> bool      does this message look like mine? (headers first, cheap)
    parse(rep: Report) -> list[Entry] recipients with status, reply, diagnostic (and a reason
                                      when the format's own table knows it)
The classifier tries them in REGISTRY order; RFC 3464 and a strict text scan come after.
"""

from __future__ import annotations

from types import ModuleType

from . import amazonses, exchange2003, exim, googlegroups, qmail

# Specific before generic: modules keyed on a unique header or sender come first.
REGISTRY: tuple[ModuleType, ...] = (amazonses, googlegroups, exchange2003, exim, qmail)

__all__ = ["REGISTRY"]
