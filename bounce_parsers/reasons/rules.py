"""The rule that turns (status, reply, command, diagnostic) into one reason.

Two passes, as sisimai does: first each reason's own rule in a fixed order (status code
and phrases together), then, when nothing fits, phrases alone, then the status class,
the mailer type and the action. The phrase tables live in phrases.py.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .codes import STATUS_REASON
from .phrases import PHRASES, REJECTED_EXCEPTIONS, Phrase

# Reasons whose status-code mapping is a guess worth re-checking against the text.
RETRY = frozenset({"undefined", "onhold", "systemerror", "securityerror", "expired", "networkerror",
                   "hostunknown", "userunknown"})
BEFORE_DATA = frozenset({"CONN", "EHLO", "HELO", "MAIL", "RCPT"})

FIRST_ORDER = ("mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "hasmoved", "norelaying", "authfailure",
               "userunknown", "filtered", "requireptr", "notcompliantrfc", "badreputation", "contenterror",
               "rejected", "hostunknown", "spamdetected", "speeding", "toomanyconn", "blocked")
SECOND_ORDER = ("mailboxfull", "authfailure", "badreputation", "speeding", "spamdetected", "virusdetected",
                "policyviolation", "norelaying", "systemerror", "networkerror", "suspend", "contenterror",
                "systemfull", "notaccept", "expired", "failedstarttls", "securityerror", "mailererror")
TEXT_ORDER = ("mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "userunknown", "filtered", "rejected",
              "hostunknown", "spamdetected", "speeding", "toomanyconn", "blocked", "authfailure",
              "failedstarttls", "securityerror", "systemerror", "networkerror", "expired", "contenterror",
              "hasmoved", "systemfull", "notaccept", "mailererror", "norelaying")


def _trie_pattern(words: list[str]) -> str:
    """A regex for "any of these words" shaped as a prefix tree: the engine follows one
    branch per position instead of trying every phrase in turn (a flat alternation of a
    hundred phrases costs a hundred attempts at every character of the text)."""
    trie: dict[str, dict] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        if "" in node and len(node) == 1:
            return ""
        alts = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return "" if "" in node else body     # a word ends here: its prefix already matches

    return emit(trie)


def _compile(phrases: tuple[Phrase, ...]) -> re.Pattern[str] | None:
    """Plain phrases become one prefix-tree alternation (fast, linear)."""
    words = [p for p in phrases if isinstance(p, str) and p]
    return re.compile(_trie_pattern(words)) if words else None


def _aligned(text: str, pieces: tuple[str, ...]) -> bool:
    """Do the pieces appear in this order? (str.find chain: linear, no backtracking)"""
    pos = 0
    for piece in pieces:
        pos = text.find(piece, pos)
        if pos < 0:
            return False
        pos += len(piece)
    return True


_PATTERNS: dict[str, re.Pattern[str] | None] = {name: _compile(table) for name, table in PHRASES.items()}
_PAIRS: dict[str, tuple[tuple[str, ...], ...]] = {
    name: tuple(p for p in table if isinstance(p, tuple)) for name, table in PHRASES.items()
}
_REJECTED_NOT = _compile(REJECTED_EXCEPTIONS)
# "550-5.2.1 The user ... at a rate that 550-5.2.1 prevents ...": a multi-line SMTP reply
# flattened into one line keeps its line prefixes, which split the phrases apart.
_CONTINUED = re.compile(r"(?<![\w.-])([245]\d\d)-(?:[245]\.\d{1,3}\.\d{1,3}\s)?")


def unfold(text: str) -> str:
    """Drop the per-line prefixes of a flattened multi-line SMTP reply, keeping the first."""
    m = _CONTINUED.search(text)
    if m is None:
        return text
    prefix = re.compile(r"(?<![\w.-])" + m.group(1) + r"[- ](?:[245]\.\d{1,3}\.\d{1,3}\s)?")
    return text[: m.start()] + m.group(0).replace("-", " ", 1) + prefix.sub("", text[m.end() :])


@lru_cache(maxsize=8192)
def includes(reason: str, text: str) -> bool:
    """Does the lower-case text carry one of this reason's phrases?"""
    if not text:
        return False
    if reason == "rejected" and _REJECTED_NOT is not None and _REJECTED_NOT.search(text):
        return False
    pat = _PATTERNS.get(reason)
    if pat is not None and pat.search(text):
        return True
    return any(_aligned(text, pair) for pair in _PAIRS.get(reason, ()))


def _probe(reason: str, status_name: str, reply: str, command: str, text: str, status: str) -> bool:
    """Reason-specific rule: does this error belong to `reason`?"""
    if reason == "userunknown":
        if status_name == "suspend":
            return False
        if status_name == "hostunknown" and includes("hostunknown", text):
            return False    # code and text agree that the domain, not the mailbox, is unknown
        if status_name == "userunknown":
            return not any(includes(r, text) for r in ("norelaying", "blocked", "mailboxfull", "hasmoved",
                                                       "rejected", "notaccept", "speeding", "toomanyconn"))
        # an addressing-status code (RFC 3463 X.1.XXX: 5.1.10, 5.1.351, ...) or a refusal of
        # RCPT TO lets the phrase decide; after DATA, or with no command known, the same words
        # come from a filter in the path (-> filtered)
        if command == "RCPT" or (status[1:4] == ".1." and status_name not in ("rejected", "hasmoved")):
            return includes("userunknown", text)
        return False
    if reason == "filtered":
        if status_name == "suspend":
            return False
        if status_name == "filtered":
            return includes("userunknown", text) or includes("filtered", text)
        if command in BEFORE_DATA:
            return False
        return includes("filtered", text) or includes("userunknown", text)
    if reason == "rejected":
        if status_name == "rejected":
            return True
        temp = status_name or "undefined"
        if command == "MAIL" or (command == "DATA" and temp != "userunknown") or temp in (
                "undefined", "onhold", "securityerror", "systemerror"):
            return includes("rejected", text)
        return False
    if reason == "hostunknown":
        if status_name == "hostunknown":
            return not includes("networkerror", text)
        return includes("hostunknown", text)
    if reason == "mesgtoobig":
        if status_name == "mesgtoobig":
            return True
        if status_name == "exceedlimit" or status == "5.2.3":
            return False
        return includes("mesgtoobig", text)
    if reason == "contenterror":
        if _probe("spamdetected", status_name, reply, command, text, status):
            return False
        return status_name == "contenterror" or includes("contenterror", text)
    if reason == "spamdetected":
        if not status:
            return False
        if status_name == "spamdetected":
            return True
        return command not in BEFORE_DATA and includes("spamdetected", text)
    if reason == "norelaying":
        return command not in ("CONN", "EHLO", "HELO") and includes("norelaying", text)
    if reason == "suspend":
        return reply == "525" or includes("suspend", text)
    if reason in ("hasmoved", "notcompliantrfc", "badreputation", "speeding"):
        return includes(reason, text)
    # mailboxfull, exceedlimit, authfailure, requireptr, toomanyconn, blocked
    return status_name == reason or includes(reason, text)


def _syntax_reply(reply: str) -> bool:
    return reply.isdigit() and (400 < int(reply) < 408 or 500 < int(reply) < 508)


def find(status: str, reply: str, command: str, diagnostic: str, diagnostic_type: str = "SMTP",
         action: str = "", preset: str = "") -> str:
    """One reason for one failed recipient."""
    if preset and preset not in RETRY:
        return preset
    if status.startswith("2."):
        return "delivered"
    text = unfold(diagnostic.lower())
    status_name = STATUS_REASON.get(status, "")
    dtype = (diagnostic_type or "SMTP").upper()
    reason = ""
    # Postfix's own diagnostic type still carries the remote server's reply when there was one
    if dtype == "SMTP" or (dtype == "X-POSTFIX" and reply):
        for name in FIRST_ORDER:
            # a format's own reason stands unless a reason earlier in the order fits
            if name == preset or _probe(name, status_name, reply, command, text, status):
                reason = name
                break
    if not reason:
        reason = preset if preset and preset not in ("undefined", "onhold") else ""
        reason = reason or _another(status, status_name, reply, command, text, dtype, action)
        if reason == "undefined":
            reason = ""
        if not reason and action in ("delayed", "expired"):
            reason = "expired"
        if not reason:
            if includes("vacation", text):
                return "vacation"
            return "onhold" if text else "undefined"
    if reason == "hostunknown" and (status[:1] == "4" or (not status and reply[:1] == "4")):
        return "networkerror"   # a transient name-service failure, not a domain that does not exist
    return reason


def _another(status: str, status_name: str, reply: str, command: str, text: str, dtype: str, action: str) -> str:
    if status_name and status_name not in RETRY and dtype == "SMTP":
        return status_name
    for name in SECOND_ORDER:
        if includes(name, text):
            return name
    if status_name:
        return status_name
    head = status[:3]
    if head in ("5.6", "4.6"):
        return "contenterror"
    if head in ("5.7", "4.7"):
        return "securityerror"
    if dtype.startswith("X-UNIX"):
        return "mailererror"
    if _syntax_reply(reply):
        return "syntaxerror"
    if action in ("delayed", "expired"):
        return "expired"
    if command in ("EHLO", "HELO"):
        return "blocked"
    return ""


def match_text(text: str) -> str:
    """A reason from an error message alone (no status code, no command)."""
    low = text.lower()
    for name in TEXT_ORDER:
        if includes(name, low):
            return name
    return ""


HARD = frozenset({"userunknown", "hostunknown", "hasmoved"})


def is_hard(reason: str, status: str, reply: str) -> bool:
    """Hard bounces: the address itself is bad. notaccept only when permanent (5xx)."""
    if reason in HARD:
        return True
    if reason == "notaccept":
        return (reply or status or "5")[:1] == "5"
    return False
