"""Was the report written by a content-filtering gateway?

A filtering gateway (an appliance or hosted service in front of the recipient's mail server:
McAfee, SurfControl, MXLogic, MailFoundry, m-FILTER, InterScan, MailMarshal, Mimecast, ...)
takes the whole message before it decides anything: it has to read the content it filters.
Its refusal of a recipient therefore comes after the message was accepted, and a bare "user
unknown" in its report is its own verdict (or a rule that hides a mailbox from unwanted
senders), not a mailbox server's answer to RCPT TO. Where the report shows no SMTP command
and no addressing code, this is what tells such a refusal (filtered) from an unknown mailbox.

The evidence is the reporter's own: the format module that read the report, or the report
message's generator headers (X-Mailer, From, Message-ID, the first Received hop, McAfee's
X-NAI-Header). Headers a filter on the *receiving* side stamps on every arriving message
(X-Barracuda-*, X-Proofpoint-*, ...) are not asked, nor is any header of the returned original.
"""

from __future__ import annotations

from .report import Report

# format modules whose reports are written by a filtering gateway
FORMATS = frozenset({"mailfoundry", "mfilter", "interscan", "mailmarshal", "mimecast"})

# product names as they appear in a generator header or the first Received hop's "by" comment
PRODUCTS = (
    "mcafee",
    "surfcontrol",
    "mxlogic",
    "mailfoundry",
    "m-filter",
    "interscan",
    "mailmarshal",
    "mimecast",
    "ironport",
    "barracuda",
    "proofpoint",
    "messagelabs",
    "brightmail",
    "fortimail",
    "sophos",
    "spamtitan",
    "mailscanner",
    "e-mail filter",
    "email filter",
    "mail filter",
    "mail gateway",
    "messaging gateway",
    "security appliance",
)


def _generator_headers(rep: Report) -> str:
    h = rep.mail.headers
    values = [*h.get("x-mailer", []), *h.get("from", []), *h.get("message-id", []), *h.get("x-nai-header", [])]
    received = h.get("received", [])
    if received:
        values.append(received[-1])  # the bottom hop: where the report was written
    return " ".join(values).lower()


def filtering(rep: Report, evidence: str) -> bool:
    """Is the reporter of this bounce a content-filtering gateway?"""
    if evidence.startswith("format:") and evidence[7:] in FORMATS:
        return True
    text = _generator_headers(rep)
    return any(p in text for p in PRODUCTS)
