"""Challenge-response mail ("confirm you are a human"): a sender-verification system holds
our message and asks us to prove we are a person. It is neither a bounce nor an auto-reply:
the recipient's address is alive. Read before the bounce parsers, because these mails borrow
a bounce's wording ("not delivered") while carrying none of a bounce's structure: no
delivery-status part, no failed-recipient header, no SMTP reply or status code."""

from __future__ import annotations

from .patterns import IGNORECASE, lazy
from .report import Report

NAME = "challenge"

# the systems' own headers (TMDA, Boxbe, Spam Arrest and the like name themselves)
_HEADERS = (
    "x-challenge",
    "x-boxbe-challenge",
    "x-spamarrest",
    "x-spam-arrest",
    "x-cr-hashedpuzzle",
    "x-challenge-response",
)
_AGENT = lazy(r"\b(?:tmda|challenge|spamarrest|boxbe|mailblocks|choicemail)\b", IGNORECASE)
# TMDA confirmation addresses: user-confirm-<time>.<pid>.<hmac>@domain
_CONFIRM_ADDRESS = lazy(r"[-+.]confirm[-+.][^@\s]*@", IGNORECASE)
# the request in the languages such systems ship (en, de, fr, es/pt/it, nl): stems, not sentences
_VERIFY = lazy(
    r"\b(?:verif(?:y|ied|ication|ier|iez|ique|icar|icare|ieer)\w*|confirm\w*|prove|best[äa]tig\w*|"
    r"bevestig\w*|conferm\w*)",
    IGNORECASE,
)
_PERSON = lazy(
    r"\b(?:human|humain|humano|umano|mensch|robot|person|spam|known contacts?|senders?|absender|exp[ée]diteur|"
    r"remitente|mittente|afzender|whitelist|allow ?list|guest list|pending|held|release)\w*",
    IGNORECASE,
)
_ACTION = lazy(r"https?://|\breply to this (?:message|e-?mail)\b|\bsimply reply\b", IGNORECASE)
# what every bounce carries somewhere and a challenge never does
_SMTP = lazy(r"(?<![\w.])(?:[45]\d\d[ -]|[45]\.\d{1,3}\.\d{1,3}\b)")


def detect(rep: Report) -> str:
    """The evidence when this is a challenge-response mail, else ''."""
    if rep.has_ds or rep.mail.header("x-failed-recipients"):
        return ""
    if any(rep.mail.header(h) for h in _HEADERS) or _AGENT.search(rep.mail.header("x-delivery-agent")):
        return f"{NAME}:header"
    text = rep.error_text()[:4000]
    if _SMTP.search(text):
        return ""
    sender = rep.mail.header("from") + " " + rep.mail.header("reply-to")
    if _CONFIRM_ADDRESS.search(sender) and _VERIFY.search(text):
        return f"{NAME}:address"
    words = rep.subject + "\n" + text
    if _VERIFY.search(words) and _PERSON.search(words) and _ACTION.search(text):
        return f"{NAME}:text"
    return ""
