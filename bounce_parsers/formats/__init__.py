"""Registry of non-standard bounce formats, one module per MTA or provider.

Every module has the same shape:
    NAME: str
    detect(rep: Report) -> bool      does this message look like mine? (headers first, cheap)
    parse(rep: Report) -> list[Entry] recipients with status, reply, diagnostic (and a reason
                                      when the format's own table knows it)
The classifier tries them in REGISTRY order; RFC 3464 and a strict text scan come after.
"""

from __future__ import annotations

from . import (
    amazonses,
    apachejames,
    domino,
    dragonfly,
    exchange2003,
    exchange2007,
    exim,
    ezweb,
    fml,
    gmail,
    googlegroups,
    imailserver,
    interscan,
    kddi,
    localpart,
    lsoft,
    mailfoundry,
    mailmarshal,
    messagingserver,
    mfilter,
    mimecast,
    notes,
    opensmtpd,
    postfix,
    qmail,
    sendmail,
    verizon,
    x6,
    zoho,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

# Specific before generic: modules keyed on a unique header or sender come first; the
# layouts many MTAs copy (Sendmail's above all) come last.
REGISTRY: tuple[ModuleType, ...] = (
    amazonses,
    googlegroups,
    zoho,
    fml,
    apachejames,
    verizon,
    ezweb,
    kddi,
    mfilter,
    imailserver,
    interscan,
    lsoft,
    localpart,
    dragonfly,
    mailfoundry,
    mimecast,
    exchange2003,
    exchange2007,
    exim,
    qmail,
    gmail,
    opensmtpd,
    postfix,
    messagingserver,
    domino,
    notes,
    mailmarshal,
    x6,
    sendmail,
)

__all__ = ["REGISTRY"]
