"""Provider-specific error codes (the remote host's own vocabulary) -> reason.

Large mailbox providers answer with their own codes ("AUP#CXBL", "OFR_416", "(DYN:T1)", ...)
whose meaning their postmaster pages document. A table applies when the remote MTA (or a
host or link named in the diagnostic) belongs to that provider; the first entry found in
the diagnostic wins. A provider's reason overrides the enhanced status code, which these
providers often leave generic (5.1.0, 5.0.0) or set misleadingly (5.1.1 for a rate limit)."""

from __future__ import annotations

from ..patterns import lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

Table = tuple[tuple[str, str], ...]

# Cox: https://www.cox.com/residential/support/email-error-codes.html
_COX: Table = (
    ("cxbl", "blocked"),
    ("cdrbl", "blocked"),
    ("ipbl", "blocked"),
    ("urlbl", "spamdetected"),
    ("cxthrt", "securityerror"),
    ("cxmj", "securityerror"),
    ("cxcnct", "toomanyconn"),
    ("cxmxrt", "toomanyconn"),
    ("cxsndr", "rejected"),
    ("cxsmtp", "rejected"),
    ("cxdns", "requireptr"),
)
# Spectrum / Charter / Road Runner: "understanding email error codes", AUP#[I|In|O]-NNNN
_SPECTRUM_CODE = lazy(r"aup#(?:in?-|o-)?(\d{4})")
_SPECTRUM: dict[str, str] = {
    "1000": "blocked",
    "1010": "blocked",
    "1090": "blocked",
    "1260": "networkerror",
    "1310": "toomanyconn",
}
# Orange / Wanadoo / La Poste (France): the reply ends with "<OFR|LPN><policy id>_<code> [<code>]"
# ("OFR_416", "OFR004_104 [104]", "LPN007_426"); the three digits after "_" carry the meaning
_ORANGE_CODE = lazy(r"\b(?:ofr|lpn)\d{0,3}_(\d{3})\b")
_ORANGE: dict[str, str] = {
    "100": "blocked",
    "101": "blocked",
    "102": "blocked",
    "103": "blocked",
    "104": "blocked",
    "105": "blocked",
    "106": "blocked",
    "107": "blocked",
    "108": "blocked",
    "109": "blocked",
    "305": "securityerror",
    "401": "authfailure",
    "402": "securityerror",
    "403": "rejected",
    "405": "rejected",
    "415": "rejected",
    "416": "userunknown",
    "417": "mailboxfull",
    "418": "userunknown",
    "420": "suspend",
    "421": "rejected",
    "425": "suspend",
    "426": "suspend",
    "506": "spamdetected",
    "510": "blocked",
    "514": "mesgtoobig",
    "999": "blocked",
}
# AOL / Verizon Media: "554 5.7.1 :(DNSBL:RBL) ...", "421 4.7.1 :(DYN:T1) ..."
_AOL: Table = (
    ("(dnsbl:", "blocked"),
    ("rly:b", "blocked"),  # RLY:B1, B2, B3, BL: the sending IP is blocked (AOL's published 554 codes)
    ("(dyn:t1)", "blocked"),
    ("(con:b1)", "blocked"),
    ("(rtr:bb)", "blocked"),
    ("(rtr:bl)", "blocked"),
    ("(hvu:b1)", "blocked"),
    ("(rlp:", "toomanyconn"),
    ("(dmarc:", "authfailure"),
    ("mailbox not found", "userunknown"),
)
# Tencent QQ mail: service.mail.qq.com help pages
_TENCENT: Table = (
    ("frequency limited", "toomanyconn"),
    ("dmarc check failed", "authfailure"),
    ("spf check failed", "authfailure"),
    ("mailbox not found", "userunknown"),
    ("mailbox is full", "mailboxfull"),
    ("mail content denied", "spamdetected"),
    ("suspected spam", "spamdetected"),
    ("mail is rejected by recipients", "filtered"),
)
# Symantec MessageLabs / Email Security.cloud
_MESSAGELABS: Table = (
    ("turn on smtp authentication", "securityerror"),
    ("sender blocked", "blocked"),
)
# GoDaddy / Secureserver: "IBnnn" codes with rlbounce links
_GODADDY: Table = (
    ("too many recipients this hour", "speeding"),
    ("ib607", "speeding"),
)
# Microsoft (Outlook.com, Office 365): resolver and blocklist codes
_MICROSOFT: Table = (
    ("resolver.adr.recipnotfound", "userunknown"),
    ("resolver.adr.recipientnotfound", "userunknown"),
    ("resolver.adr.exrecipnotfound", "userunknown"),
    ("resolver.rst.recipsizelimit", "mesgtoobig"),
    ("resolver.adr.recipsizelimit", "mesgtoobig"),
    ("resolver.qm.banned", "blocked"),
    ("banned sending ip", "blocked"),
    ("(s3150)", "blocked"),
    ("(s3140)", "blocked"),
    # Directory-Based Edge Blocking: the address is not in the tenant's directory
    ("recipient address rejected: access denied", "userunknown"),
    ("(as(", "blocked"),
    # Outlook.com / Hotmail answer RCPT for an address they do not have with RFC 5321's stock 550 text
    ("requested action not taken: mailbox unavailable", "userunknown"),
)
# au by KDDI (ezweb.ne.jp, au.com): "550 <addr>: User unknown" is an unknown mailbox, the
# same words with the address left out ("550 : User unknown") come from the recipient's filter
_KDDI: Table = (
    ("550 : user unknown", "filtered"),
    (">: user unknown", "userunknown"),
)
# Facebook: postmaster.facebook.com/response_codes
_FACEBOOK: Table = (
    ("rcp-p1", "userunknown"),
    ("rcp-p2", "filtered"),
    ("rcp-p3", "filtered"),
    ("rcp-t4", "suspend"),
    ("pol-p1", "blocked"),
    ("pol-p2", "blocked"),
    ("pol-t1", "blocked"),
    ("pol-t2", "blocked"),
    ("pol-t3", "blocked"),
    ("pol-p7", "authfailure"),
    ("pol-p8", "requireptr"),
    ("msg-p1", "mesgtoobig"),
    ("msg-p3", "notcompliantrfc"),
    ("con-t1", "toomanyconn"),
    ("con-t2", "toomanyconn"),
    ("con-t3", "toomanyconn"),
    ("con-t4", "toomanyconn"),
    ("rcp-t1", "speeding"),
    ("msg-t1", "speeding"),
)
# Mimecast: community.mimecast.com "Mimecast SMTP error codes"
_MIMECAST: Table = (
    ("host network not allowed", "policyviolation"),
    ("anti-spoofing policy", "policyviolation"),
    ("content examination policy", "policyviolation"),
    ("maximum email size exceeded", "mesgtoobig"),
    ("mail loop detected", "networkerror"),
    ("open relay not allowed", "norelaying"),
    ("account inbounds disabled", "notaccept"),
    ("local ct ip reputation", "blocked"),
    ("sender address blocked", "blocked"),
    ("ip temporarily blacklisted", "blocked"),
    ("sender invalid - envelope rejected", "blocked"),
    ("envelope blocked", "rejected"),
    ("blocked senders", "rejected"),
    ("block policy for envelope from", "rejected"),
    ("incorrect authentication data", "securityerror"),
    ("this route requires", "securityerror"),
    ("too many recipients", "toomanyconn"),
    ("exceeding outbound thread limit", "toomanyconn"),
    ("account service is temporarily unavailable", "toomanyconn"),
    ("invalid recipient", "userunknown"),
    ("email rejected due to security policies", "virusdetected"),
)

# Google (Gmail, Workspace): https://support.google.com/a/answer/3726730 (SMTP error reference)
_GOOGLE: Table = (
    ("the email account that you tried to reach does not exist", "userunknown"),
    ("because the address couldn't be found", "userunknown"),
    ("p=nosuchuser", "userunknown"),
    ("the email account that you tried to reach is disabled", "suspend"),
    ("the email account that you tried to reach is inactive", "suspend"),
    ("the email account that you tried to reach is over quota", "mailboxfull"),
    ("inbox is out of storage space", "mailboxfull"),
    ("p=overquota", "mailboxfull"),
    ("receiving mail at a rate that", "speeding"),
    ("p=receivingrate", "speeding"),
    ("unusual rate of unsolicited mail", "blocked"),
    ("p=unsolicitedrate", "blocked"),
    ("does not have authentication information or fails to pass", "authfailure"),
    ("unauthenticated email from", "authfailure"),
    ("dmarc policy", "authfailure"),
    ("multiple addresses in from", "notcompliantrfc"),
    ("p=rfcmessagenoncompliant", "notcompliantrfc"),
    ("message exceeded", "mesgtoobig"),
    ("p=maxsizeerror", "mesgtoobig"),
    ("doesn't receive email according to the administrator", "notaccept"),
)
# Yahoo / AOL (Yahoo Inc.): https://senders.yahooinc.com/smtp-error-codes
_YAHOO: Table = (
    ("user doesn't have a", "userunknown"),
    ("mailbox not found", "userunknown"),
    ("this mailbox is disabled", "suspend"),
    ("[tss09]", "blocked"),
    ("[tsm", "blocked"),
    ("[ph01]", "policyviolation"),
    ("message size exceeds", "mesgtoobig"),
)

# (substrings one of which every match of the pattern contains, pattern, table): the plain
# substring test skips the two regex searches for the many reports that name no such provider
PROVIDERS: tuple[tuple[tuple[str, ...], re.Pattern[str], Table], ...] = (
    (("google", "gmail", "gsmtp"), lazy(r"\b(?:google\.com|gmail\.com|googlemail\.com)\b|\bgsmtp\b"), _GOOGLE),
    # Yahoo's MTA serves many domains (rocketmail, ymail, att.net, ...); "delivery error: dd" is its own
    (
        ("yahoo", "ymail", "rocketmail", "delivery error: dd "),
        lazy(
            r"\byahoo(?:dns|-inc|inc)?\.[a-z]{2,3}(?:\.[a-z]{2})?\b|\b(?:ymail|rocketmail)\.com\b|delivery error: dd "
        ),
        _YAHOO,
    ),
    (("cox.",), lazy(r"\bcox\.(?:net|com)\b"), _COX),
    (("aol.", "aim.", "verizon.", "yahoodns."), lazy(r"\b(?:aol|aim|verizon|yahoodns)\.(?:com|net)\b"), _AOL),
    (("qq.com", "exmail.qq", "tencent"), lazy(r"\b(?:qq\.com|exmail\.qq|tencent)"), _TENCENT),
    (("messagelabs.com",), lazy(r"messagelabs\.com"), _MESSAGELABS),
    (("secureserver.net", "godaddy", "x.co/rlbounce"), lazy(r"secureserver\.net|godaddy|x\.co/rlbounce"), _GODADDY),
    (
        ("outlook.com", "hotmail.com", "office365.com"),
        lazy(r"\b(?:outlook|hotmail|protection\.outlook|office365)\.com\b"),
        _MICROSOFT,
    ),
    (("ezweb.ne.jp", "au.com"), lazy(r"\bezweb\.ne\.jp\b|\bau\.com\b"), _KDDI),
    (("facebook.com",), lazy(r"\bfacebook\.com\b"), _FACEBOOK),
    (("mimecast",), lazy(r"\bmimecast\.com\b|\bmimecast\b"), _MIMECAST),
)
_SPECTRUM_HOST = lazy(r"\b(?:charter\.net|spectrum\.net|rr\.com|twc\.com)\b")


# cheap substring screen: most bounces name none of these providers
_KEYS = (
    "cox.",
    "charter.",
    "spectrum.",
    "rr.com",
    "twc.com",
    "aup#",
    "ofr",
    "lpn",
    "aol.",
    "aim.",
    "verizon",
    "yahoo",
    "ymail",
    "rocketmail",
    "delivery error: dd",
    "qq",
    "tencent",
    "messagelabs",
    "secureserver",
    "godaddy",
    "x.co/",
    "outlook",
    "hotmail",
    "office365",
    "google",
    "gmail",
    "gsmtp",
    "ezweb.",
    "au.com",
    "facebook",
    "mimecast",
)


def provider_reason(remote_mta: str, diagnostic: str, status: str, reply: str) -> str:
    """A reason from the remote provider's own code table, or ''."""
    low = diagnostic.lower()
    host = remote_mta.lower()
    # one haystack for both (no key holds a newline, so none matches across the joint)
    both = host + "\n" + low
    if not any(map(both.__contains__, _KEYS)):
        return ""
    if "aup#" in low and (_SPECTRUM_HOST.search(host) or _SPECTRUM_HOST.search(low)):
        m = _SPECTRUM_CODE.search(low)
        if m and m.group(1) in _SPECTRUM:
            return _SPECTRUM[m.group(1)]
    if "ofr" in low or "lpn" in low:
        m = _ORANGE_CODE.search(low)
        if m and m.group(1) in _ORANGE:
            return _ORANGE[m.group(1)]
    for needles, pattern, table in PROVIDERS:
        if not any(map(both.__contains__, needles)):
            continue
        if not (pattern.search(host) or pattern.search(low)):
            continue
        for code, reason in table:
            if code in low:
                return reason
    return ""
