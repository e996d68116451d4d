"""Provider-specific error codes (the remote host's own vocabulary) -> reason.

Large mailbox providers answer with their own codes ("AUP#", "CXBL", "SC-001", ...) whose
meaning their postmaster pages document. A table applies when the remote MTA (or the
host named in the diagnostic) belongs to that provider."""

from __future__ import annotations

import re

# (host pattern, ((lower-case code or phrase, reason), ...))
PROVIDERS: tuple[tuple[re.Pattern[str], tuple[tuple[str, str], ...]], ...] = ()


def provider_reason(remote_mta: str, diagnostic: str, status: str, reply: str) -> str:
    """A reason from the remote provider's own code table, or ''."""
    if not PROVIDERS:
        return ""
    host = remote_mta.lower()
    low = diagnostic.lower()
    for pattern, table in PROVIDERS:
        if not (pattern.search(host) or pattern.search(low)):
            continue
        for code, reason in table:
            if code in low:
                return reason
    return ""
