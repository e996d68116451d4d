"""How (status, reply, command, diagnostic) becomes one reason.

Each reason has its phrase table (phrases.py: data) and its own small rule here, registered
with @rule(name) in RULES: a predicate over one Error that weighs the structure first (the
SMTP command, the RFC 3463 class/subject/detail, the reply code) and the phrases second.
Reasons without a rule of their own use the generic "its code or its phrases". find() asks
the rules in FIRST_ORDER; when none fits it falls back, in turn, to phrases alone
(SECOND_ORDER), the words of a refusal (who was refused), the status code, its class, the
mailer type, the action, and last the vocabulary of DNS and transport before "onhold".
"""

from __future__ import annotations

from ..patterns import lazy, regex
from .codes import STATUS_REASON
from .families import family
from .matcher import PhraseIndex
from .phrases import PHRASES, REJECTED_EXCEPTIONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

    Rule = Callable[["Error"], bool]

# Reasons whose status-code mapping is a guess worth re-checking against the text.
RETRY = frozenset(
    {"undefined", "onhold", "systemerror", "securityerror", "expired", "networkerror", "hostunknown", "userunknown"}
)
BEFORE_DATA = frozenset({"CONN", "EHLO", "HELO", "MAIL", "RCPT"})
GREETING = frozenset({"CONN", "EHLO", "HELO"})
QUEUE_TRAILER = "this message has been in the queue too long"
PASSING = frozenset({"onhold", "undefined", "systemerror", "systemfull", "networkerror", "expired"})
NOT_RCPT = frozenset({"CONN", "EHLO", "HELO", "MAIL", "DATA"})

FIRST_ORDER = (
    "mailboxfull",
    "mesgtoobig",
    "exceedlimit",
    "suspend",
    "hasmoved",
    "norelaying",
    "authfailure",
    "failedstarttls",
    "userunknown",
    "filtered",
    "requireptr",
    "notcompliantrfc",
    "badreputation",
    "contenterror",
    "rejected",
    "hostunknown",
    "virusdetected",
    "spamdetected",
    "speeding",
    "toomanyconn",
    "blocked",
)
SECOND_ORDER = (
    "mailboxfull",
    "authfailure",
    "badreputation",
    "speeding",
    "spamdetected",
    "virusdetected",
    "policyviolation",
    "norelaying",
    "systemerror",
    "networkerror",
    "suspend",
    "contenterror",
    "systemfull",
    "notaccept",
    "expired",
    "failedstarttls",
    "securityerror",
    "mailererror",
)
TEXT_ORDER = (
    "mailboxfull",
    "mesgtoobig",
    "exceedlimit",
    "suspend",
    "userunknown",
    "filtered",
    "rejected",
    "hostunknown",
    "spamdetected",
    "speeding",
    "toomanyconn",
    "blocked",
    "authfailure",
    "failedstarttls",
    "securityerror",
    "systemerror",
    "networkerror",
    "expired",
    "contenterror",
    "hasmoved",
    "systemfull",
    "notaccept",
    "mailererror",
    "norelaying",
)


# One index over every reason's table (matcher.py): a text's words pick the few phrases worth a
# substring test, instead of a test per phrase (~85,000 over the development corpus), and one
# look at a text answers for all reasons.
_INDEX: PhraseIndex | None = None
# the reasons whose phrases a text holds, by text
_FOUND: dict[str, set[str]] = {}
MAX_REMEMBERED = 4096


def _reasons_in(text: str) -> set[str]:
    global _INDEX
    found = _FOUND.get(text)
    if found is None:
        if _INDEX is None:
            _INDEX = PhraseIndex(PHRASES)
        found = _INDEX.names_in(text)
        if len(_FOUND) >= MAX_REMEMBERED:
            _FOUND.clear()
        _FOUND[text] = found
    return found


# "550-5.2.1 The user ... at a rate that 550-5.2.1 prevents ...": a multi-line SMTP reply
# flattened into one line keeps its line prefixes, which split the phrases apart.
# (the test of what stands before the code follows its first digit: re skips to the digits)
_CONTINUED = lazy(r"([245](?<![\w.-][245])\d\d)-(?:[245]\.\d{1,3}\.\d{1,3}\s)?")


def unfold(text: str) -> str:
    """Drop the per-line prefixes of a flattened multi-line SMTP reply, keeping the first."""
    m = _CONTINUED.search(text)
    if m is None:
        return text
    code = m.group(1)
    prefix = regex(code[0] + r"(?<![\w.-]" + code[0] + ")" + code[1:] + r"[- ](?:[245]\.\d{1,3}\.\d{1,3}\s)?")
    return text[: m.start()] + m.group(0).replace("-", " ", 1) + prefix.sub("", text[m.end() :])


def includes(reason: str, text: str) -> bool:
    """Does the lower-case text carry one of this reason's phrases?"""
    if not text:
        return False
    if reason == "rejected" and any(word in text for word in REJECTED_EXCEPTIONS):
        return False
    return reason in _reasons_in(text)


class Error:
    """One failed recipient's evidence, as the reason rules see it."""

    # a plain slotted class: typing.NamedTuple cost ~3 ms of every process start
    __slots__ = ("status", "status_name", "reply", "command", "text", "source")
    status: str
    status_name: str
    reply: str
    command: str
    text: str
    source: str

    def __init__(self, status: str, status_name: str, reply: str, command: str, text: str, source: str = "") -> None:
        self.status = status  # enhanced status code ("5.1.1") or ""
        self.status_name = status_name  # the reason RFC 3463 / the IANA registry gives that code, or ""
        self.reply = reply  # SMTP reply code or ""
        self.command = command  # the SMTP command the error answered, or ""
        self.text = text  # the diagnostic, lower case, multi-line prefixes dropped
        # who gave the answer: "gateway" (a content-filtering gateway wrote the report, gateway.py),
        # "relay" (the report passes on another server's reply) or "" (the reporter's own)
        self.source = source

    @property
    def subject(self) -> str:
        """RFC 3463 subject digit: 1 addressing, 2 mailbox, 4 network, 5 protocol, 7 policy."""
        return self.status[2:3]

    @property
    def generic(self) -> bool:
        """No code, or one that says nothing about the cause (X.0.X, an unmapped X.5.X): the words decide."""
        return not self.status or (not self.status_name and self.subject in ("0", "5"))

    def says(self, reason: str) -> bool:
        return includes(reason, self.text)

    def says_unknown_user(self) -> bool:
        """The userunknown phrases, or the grammar they share: the addressee, then that it is gone."""
        return includes("userunknown", self.text) or _addressee_gone(self.text)


RULES: dict[str, Rule] = {}


def rule(name: str) -> Callable[[Rule], Rule]:
    """Register `fn` as the first-pass rule of one reason: does this error belong to it?"""

    def register(fn: Rule) -> Rule:
        RULES[name] = fn
        return fn

    return register


# The recipient's address is refused in so many words ("User unknown", "No such user").
# The words decide when the structure places the refusal at the address: RCPT TO, an
# addressing code (X.1.X), a protocol-level code (X.5.X: only RCPT refuses an address during
# the dialogue), a 553 "mailbox name not allowed" or a 501 syntax error in the argument (both
# answer only MAIL or RCPT, RFC 5321 4.3.2), or a reply whose only words are the address and a
# refusal ("542 <kim@b.example> Rejected"). After DATA or under a policy code (X.7.X) the same
# words are what a filter in the path prints (filtered); with neither a command nor a telling
# code, who answered decides (below).
@rule("userunknown")
def _userunknown(e: Error) -> bool:
    if e.command == "MAIL":
        return False  # RFC 5321: a reply to MAIL FROM is about the sender, whatever its code or words
    if _refuses_sender_or_client(e.text):
        return False  # the refusal names the sender's address or the client, not the recipient
    if e.status_name == "suspend":
        # X.2.1 "mailbox disabled" is also what some servers answer RCPT TO for a mailbox they
        # do not have; there the words and the command place the refusal at the address
        return e.command == "RCPT" and e.subject == "2" and e.says_unknown_user()
    if e.status_name == "hostunknown" and e.says("hostunknown"):
        return False  # code and text agree that the domain, not the mailbox, is unknown
    if e.status_name == "userunknown":
        return not any(
            e.says(r)
            for r in (
                "norelaying",
                "blocked",
                "mailboxfull",
                "hasmoved",
                "rejected",
                "notaccept",
                "speeding",
                "toomanyconn",
            )
        )
    if e.command == "RCPT" and _bare_recipient_refusal(e.text):
        return True
    if e.command not in NOT_RCPT and _bare_address_refusal(e.text):
        return True
    if e.command == "RCPT" or (e.subject == "1" and e.status_name not in ("rejected", "hasmoved")):
        return e.says_unknown_user()
    if e.command in NOT_RCPT or e.subject == "7":
        return False
    if e.reply == "553":  # "mailbox name not allowed" answers only MAIL or RCPT, whatever the code says
        return e.says_unknown_user()
    if not e.generic:
        return False
    if e.subject == "5" or e.reply == "501":
        return e.says_unknown_user()
    # Neither a command nor a telling code: who gave the answer decides. A content-filtering
    # gateway has taken the whole message before it refuses anyone (gateway.py); a relay that
    # passes on a server's reply without the command it answered cannot place it before DATA.
    # Those stay filtered (below). The reporting server's own reply, or a report with no reply
    # code at all ("No such user", "User unknown"), is what it says: "550 Mailbox does not exist",
    # and RFC 5321's stock 550 text "mailbox unavailable", whose first example is "mailbox not
    # found" and which servers (Outlook.com, MailEnable, Axigen) give for an address they lack.
    if not e.source and (_LOCAL_MAILBOX.search(e.text) or any(w in e.text for w in LOOKUP_WORDS)):
        # the reporter speaks of its own ("local") mailboxes, or of its own directory lookup
        return e.says_unknown_user()
    if e.source:
        return False
    return e.says_unknown_user()


LOOKUP_WORDS = ("not found", "not listed", "directory", "address book", "no such")
_LOCAL_MAILBOX = lazy(r"\blocal[ -](?:mailbox|user|recipient|part|address|account)")


# The refusal says whose it is: Postfix's "Sender address rejected", "Client host rejected",
# "Helo command rejected"; Exim's "Sender verify failed"
_WHOSE = lazy(
    r"\b(?:sender(?: address)?|envelope sender|client host|helo command|ehlo command)\s+"
    r"(?:rejected|refused|denied|blocked|verify failed|verification failed)"
    r"|\bsender verify failed"
)


def _refuses_sender_or_client(text: str) -> bool:
    return ("sender" in text or "client" in text or "helo" in text) and bool(_WHOSE.search(text))


# "<the addressee> ... <is gone>" within one clause: "Recipient kim@b.example does not exist here",
# "User kim unknown", "mailbox kim not found". Not about a domain, a host or the sender.
_ADDRESSEE = (
    r"\b(?:user|recipient|mailbox|addressee|account|e-?mail address|(?<!sender )(?<!from )(?<!ip )address|destinataire|utilisateur|bo[iî]te|"
    r"destinatario|usuario|buz[oó]n|casella|utente|caixa(?: postal)?|usu[aá]rio|empf[aä]nger|benutzer|postfach|"
    r"ontvanger|gebruiker|postvak|indirizzo|direcci[oó]n|adresse|adres|endere[cç]o|cuenta|conta|konto)\b"
)
_ADDRESSEE_GONE = lazy(
    _ADDRESSEE + r"([^.;:()\[\]]{0,60}?)"
    r"(?:\bdoes not exist|\bdoesn't exist|\bnot exists?\b|\bunknown\b|(?<!service )\bnot known\b|\bnot found\b|\bnon-?existent\b|"
    r"\bnot valid\b|\binvalid\b|\b(?:could not|cannot|can't) be found\b|\bin[ea]x?s?istan|\bine[xs]?s?istente?\b|\binconnue?\b|\bn'existe pas|\bdesconocid|\bno existe|\bsconosciut|"
    r"\bnon esiste|\bn[aã]o existe|\bunbekannt|\bnicht vorhanden|\bexistiert nicht|\bonbekend|\bbestaat niet|"
    r"\b(?:n'est )?pas valide|\bno (?:es )?v[aá]lid|\bnon (?:è )?valid|\bung[üu]ltig|\bongeldig|\binv[aá]lid[oae]\b)"
)
# the addressee's mailbox full, in the languages servers answer in
_ADDRESSEE_FULL = lazy(
    _ADDRESSEE + r"([^.;:()\[\]]{0,60}?)"
    r"(?:\bfull\b|\bover (?:its |the )?(?:quota|storage|size limit)|\bstorage limit|\bout of (?:storage|space)|"
    r"\blleno\b|\bllena\b|\bpiena\b|\bpieno\b|\bpleine?\b|\bvoll\b|\bcheia\b|\bcheio\b|\bvol\b)"
)
# the addressee's account switched off
_ADDRESSEE_OFF = lazy(
    _ADDRESSEE + r"([^.;:()\[\]]{0,60}?)"
    r"(?:\bdisabled\b|\bdeactivated\b|\bsuspended\b|\binactive\b|\bclosed\b|\bterminated\b|\bcancell?ed\b|\bdiscontinued\b|"
    r"\bd[ée]sactiv|\bdesactivad|\bdisattivat|\bdeaktiviert|\bgesperrt)"
)


# a piece of each state word of the three patterns above (tests check every alternative has one)
GONE_HINTS = (
    "exist",
    "unknown",
    "known",
    "found",
    "valid",
    "válid",
    "istan",
    "istent",
    "inconnu",
    "desconocid",
    "sconosciut",
    "unbekannt",
    "vorhanden",
    "onbekend",
    "bestaat",
    "ltig",
    "ongeldig",
)
FULL_HINTS = ("full", "quota", "storage", "size limit", "space", "llen", "pien", "plein", "vol", "chei")
OFF_HINTS = (
    "disabled",
    "deactivated",
    "suspended",
    "inactive",
    "closed",
    "terminated",
    "cancel",
    "discontinued",
    "sactiv",
    "disattivat",
    "deaktiviert",
    "gesperrt",
)


# The grammar rules read a clause, not a page: a diagnostic is at most MAX_DIAGNOSTIC (1,000)
# characters in a classification; other callers' longer texts are read this far.
GRAMMAR_SPAN = 2000


_PLAIN: dict[str, str] = {}


def _plain(text: str) -> str:
    """The text the grammar rules read: its first GRAMMAR_SPAN characters, each address one word
    (an address's dots do not end a clause). Several rules read the same text: done once."""
    found = _PLAIN.get(text)
    if found is None:
        found = text[:GRAMMAR_SPAN]
        found = _AN_ADDRESS.sub("addr", found) if "@" in found else found
        if len(_PLAIN) >= 1024:
            _PLAIN.clear()
        _PLAIN[text] = found
    return found


def _addressee_is(pattern: re.Pattern[str], text: str, hints: tuple[str, ...] = ()) -> bool:
    """Does the pattern's addressee-then-state clause occur? `hints`: a piece of every state word
    the pattern knows, so a text holding none skips the regex (which cannot skip to a literal)."""
    if hints and not any(h in text for h in hints):
        return False
    plain = _plain(text)
    for m in pattern.finditer(plain):
        between = m.group(1)
        if not any(w in between for w in _NOT_THE_ADDRESSEE) and not _object_of(plain, m.start()):
            return True
    return False


# "the destination server for this recipient could not be found": after a preposition the addressee is
# not what the state is said of
_OBJECT_OF = lazy(r"\b(?:for|of) (?:this |the |that |each |every )?$")


def _object_of(text: str, at: int) -> bool:
    # only the few words before AT: searching the whole text before it costs a scan per match
    return _OBJECT_OF.search(text, max(0, at - 16), at) is not None


_NOT_THE_ADDRESSEE = ("domain", "host", "sender", "from", "server", "system", "reputation", "not ")
# the destination's name is gone: "destination e-mail system is unknown", "domain b.example does not exist"
_HOST_GONE = lazy(
    # a dot inside a name ("domain b.example could not be found") does not end the clause
    r"\b(?:domain|host ?name|host|destination (?:e-?mail |mail )?(?:system|server))\b((?:[^.;:()\[\]]|\.(?=\w)){0,40}?)"
    r"(?:\bdoes not exist|\bdoesn't exist|\bunknown\b|\bnot found\b|\bnon-?existent\b|\bunknown or invalid"
    r"|\b(?:could not|couldn't|cannot|can't) be found)"
)


def _host_gone(text: str) -> bool:
    if "exist" not in text and "unknown" not in text and "found" not in text:
        return False  # none of _HOST_GONE's state words
    for m in _HOST_GONE.finditer(_plain(text)):
        if not any(w in m.group(1) for w in ("reputation", "sender", "your", "not ")):
            return True
    return False


# tried only where a word starts (the lookbehind), not at every character of a long word
_AN_ADDRESS = lazy(r"<?(?<![^\s<>@])[^\s<>@]{1,128}@[^\s<>@]{1,255}>?")


# the addressee and any negation of it, for the last reading of a permanent failure
_ADDRESSEE_REFUSED = lazy(
    _ADDRESSEE + r"([^.;:()\[\]]{0,60}?)"
    r"(?:\bnot\b|n't\b|\bno\b|\bnever\b|\bcannot\b|\bunknown|\binvalid|\bunavailable|\bunrecogni|\bunregistered|"
    r"\bnon-?exist|\bmissing\b|\bwrong\b|\bbad\b|\billegal\b|\bincorrect\b|\bfail)"
)


def _permanent(status: str, reply: str) -> bool:
    return (status or reply)[:1] == "5"


def _addressee_gone(text: str) -> bool:
    return _addressee_is(_ADDRESSEE_GONE, text, GONE_HINTS)


# "Recipient address rejected." / "Recipient not accepted" and nothing after it but an end,
# a full stop or Postfix's "(in reply to RCPT TO command)": no restriction is named
_BARE_RECIPIENT_REFUSAL = lazy(r"recipient(?: address)? (?:rejected|not accepted|refused|denied)\.?\s*(?:\(|$)")


# "<kim@b.example> Rejected": the address itself is the thing refused, and no reason is named
_BARE_ADDRESS_REFUSAL = lazy(r"^(?:[245]\d\d[ -])?(?:[245]\.\d{1,3}\.\d{1,3} )?addr:? (?:rejected|refused|denied)\.?$")


def _bare_address_refusal(text: str) -> bool:
    return "@" in text and _BARE_ADDRESS_REFUSAL.search(_AN_ADDRESS.sub("addr", text.strip())) is not None


def _bare_recipient_refusal(text: str) -> bool:
    return "recipient" in text and _BARE_RECIPIENT_REFUSAL.search(text) is not None


@rule("filtered")
def _filtered(e: Error) -> bool:
    if e.status_name == "suspend":
        return False
    if e.status_name == "filtered":
        return e.says_unknown_user() or e.says("filtered")
    if e.command in BEFORE_DATA:
        return False
    # "user unknown" that the userunknown rule did not take
    return e.says("filtered") or e.says_unknown_user()


# At MAIL FROM the address in question is the sender's: any "bad address" wording is a refusal
# of the sender (RFC 5321 553 "mailbox name not allowed", X.1.7/X.1.8).
# RFC 3463's own description of X.7.1; it says no more than the code
_STOCK_X71 = "delivery not authorized, message refused"
# the refusal is about the sender's address or domain ("Sender address has null MX", RFC 7505)
_SENDER_SUBJECT = lazy(r"\bsender(?:'s)? (?:address|domain)\b")


# "Sender a.example is blacklisted", "Sender address <s@a> was rejected": the sentence is about the sender
_SENDER_REFUSED = lazy(
    r"\bsender(?:'s)?(?: address| domain)?\s+(?:<?[^\s<>]{1,255}?>?\s+)?(?:is |was |has been )?"
    r"(?:blacklisted|blocklisted|blocked|listed|banned|rejected|refused|denied|not allowed|(?:on|in) (?:the|a|an|our) [\w -]{0,20}?list\b)"
)


@rule("rejected")
def _rejected(e: Error) -> bool:
    if e.status_name == "rejected":
        return True
    if "sender" in e.text and _SENDER_REFUSED.search(e.text[:GRAMMAR_SPAN]):
        return True
    if e.subject in ("1", "7") and "recipient" not in e.text and _SENDER_SUBJECT.search(e.text):
        return True
    if _STOCK_X71 in e.text and not includes("rejected", e.text.replace(_STOCK_X71, " ")):
        return False
    if _refuses_sender_or_client(e.text) and "sender" in e.text and not any(w in e.text for w in CLIENT_WORDS):
        return True
    if e.command == "MAIL":
        # the address in question is the sender's: an addressing code (X.1.X) or "bad address" words
        if e.subject == "1":
            return True
        return e.says("rejected") or e.says_unknown_user() or e.says("hostunknown") or "access denied" in e.text
    temp = e.status_name or "undefined"
    if (e.command == "DATA" and temp != "userunknown") or temp in (
        "undefined",
        "onhold",
        "securityerror",
        "systemerror",
    ):
        return e.says("rejected")
    return False


# A domain that does not exist, unless the text says the lookup itself failed for now.
@rule("hostunknown")
def _hostunknown(e: Error) -> bool:
    if e.says("networkerror") or _refuses_sender_or_client(e.text):
        return False
    if e.status_name == "hostunknown" or e.says("hostunknown"):
        return True
    # the words name the destination host or domain as gone (not a sender's, not a reputation)
    return not any(w in e.text for w in SENDER_WORDS) and _host_gone(e.text)


# "message size exceeds ...", "message too large", "message is larger than": the message, not a mailbox
_MESSAGE_SIZE = lazy(r"\bmessage\b(?: size| length)?(?: is)? (?:exceeds|too (?:big|large)|larger than|over the size)")


@rule("mesgtoobig")
def _mesgtoobig(e: Error) -> bool:
    if e.status_name == "mesgtoobig":
        return True
    if e.status_name == "exceedlimit" or e.status == "5.2.3":
        return False
    if e.says("mesgtoobig"):
        return True
    return "message" in e.text and "quota" not in e.text and _MESSAGE_SIZE.search(e.text[:GRAMMAR_SPAN]) is not None


# Once the content was sent (DATA, or no command named) and no block list is named, the words
# of unsolicited mail are a verdict on the message.
SPAM_WORDS = ("spam", "unsolicited", " ube", "junk mail", "bulk mail")
BLOCKLIST_WORDS = ("spamhaus", "spamcop", "blacklist", "blocklist", "block list", "dnsbl", "rbl", "listed")


_IN_MESSAGE = lazy(r"\b(?:urls?|uris?|links?|uribl|surbl)\b")


@rule("spamdetected")
def _spamdetected(e: Error) -> bool:
    if not e.status and e.command != "DATA":
        return False  # no code: only a refusal of the content itself (after DATA) is read for spam words
    if e.status_name == "spamdetected":
        return True
    if e.command in BEFORE_DATA:
        return False
    if e.says("spamdetected"):
        return True
    if any(w in e.text for w in BLOCKLIST_WORDS + (" list",)) and _IN_MESSAGE.search(e.text[:GRAMMAR_SPAN]):
        return True  # a link inside the message is listed (URIBL, SURBL), not the client
    return (
        e.subject in ("", "0", "6", "7")
        and any(w in e.text for w in SPAM_WORDS)
        and not any(w in e.text for w in BLOCKLIST_WORDS)
        and not any(w in e.text for w in CLIENT_WORDS)
    )


# Malware found in the content: a verdict on the message, whatever the policy code says.
VIRUS_WORDS = ("virus", "malware", "trojan", "infected", "eicar", "malicious", "phishing")


@rule("virusdetected")
def _virusdetected(e: Error) -> bool:
    if e.says("virusdetected"):
        return True
    if e.command in BEFORE_DATA or e.subject not in ("", "0", "6", "7"):
        return False
    return any(w in e.text for w in VIRUS_WORDS) and "anti-virus" not in e.text and "antivirus" not in e.text


_TLS = lazy(r"\b(?:start)?tls\b")


# RFC 3207: "530 Must issue a STARTTLS command first"; a client that requires TLS and is not
# offered it. TLS vocabulary with a requirement or a failure.
@rule("failedstarttls")
def _failedstarttls(e: Error) -> bool:
    if e.says("failedstarttls"):
        return True
    if "tls" not in e.text or _TLS.search(e.text) is None:
        return False
    return any(w in e.text for w in ("must", "required", "requires", "not offer", "failed", "failure", "unable"))


@rule("contenterror")
def _contenterror(e: Error) -> bool:
    if _spamdetected(e):
        return False
    return e.status_name == "contenterror" or e.says("contenterror")


# "relay"/"relaying" as a word (not a host name's "relay1.b.example") with a refusal beside it
_RELAY_REFUSED = lazy(
    r"(?:unable to|cannot|can't|not (?:permitted|allowed|authori[sz]ed) to|we do not)\s+relay\b(?![.-]\w)"
    r"|\brelay(?:ing)?\b(?![.-]\w)[^.;]{0,30}?\b(?:denied|refused|prohibited|not permitted|not allowed|rejected)"
)


@rule("norelaying")
def _norelaying(e: Error) -> bool:
    if e.command in ("CONN", "EHLO", "HELO"):
        return False
    if _requireptr(e):
        return False  # Sendmail's "Relaying denied. IP name lookup failed": the cause is the missing PTR
    if e.says("norelaying"):
        return True
    return "relay" in e.text and _RELAY_REFUSED.search(_plain(e.text)) is not None


@rule("suspend")
def _suspend(e: Error) -> bool:
    if e.status_name == "hasmoved":
        return False  # X.1.6 says why the address takes no more mail: it moved
    if e.status_name == "userunknown" and e.says_unknown_user():
        return False  # "unknown or disabled" under X.1.1: the code settles which of its words holds
    return e.reply == "525" or e.says("suspend") or _addressee_is(_ADDRESSEE_OFF, e.text, OFF_HINTS)


@rule("mailboxfull")
def _mailboxfull(e: Error) -> bool:
    return e.status_name == "mailboxfull" or e.says("mailboxfull") or _addressee_is(_ADDRESSEE_FULL, e.text, FULL_HINTS)


# RFC 3463 X.1.6 "destination mailbox has moved"; RFC 5321 551 "User not local; please try <...>"
@rule("hasmoved")
def _hasmoved(e: Error) -> bool:
    if e.status_name == "hasmoved" or e.says("hasmoved"):
        return True
    # 551 also serves for "not local, and I will not relay": only a named forward path moves
    forward = any(w in e.text for w in ("not local", "please try", "please use", "forward", "new address"))
    return e.reply == "551" and forward and (e.generic or e.subject == "1") and not e.says("norelaying")


# A refusal at the greeting or HELO can only be about the client: its IP, name or network.
@rule("blocked")
def _blocked(e: Error) -> bool:
    if e.status[2:] == "4.2" and not any(w in e.text for w in CLIENT_WORDS):
        return False  # RFC 3463 X.4.2 "bad connection": the transport, not a block of the client
    if e.status_name == "blocked" or e.says("blocked"):
        return True
    if _refuses_sender_or_client(e.text) and ("client" in e.text or "helo" in e.text):
        return True
    return e.command in GREETING and any(
        w in e.text for w in ("denied", "refused", "rejected", "not allowed", "invalid", "not accepting")
    )


def _phrase_only(name: str) -> Rule:
    return lambda e: e.says(name)


def _code_or_phrase(name: str) -> Rule:
    return lambda e: e.status_name == name or e.says(name)


# the remaining reasons' rules are generic: their phrases, or their code or their phrases
# a low, poor or bad reputation of the sending IP or domain
@rule("badreputation")
def _badreputation(e: Error) -> bool:
    if e.says("badreputation"):
        return True
    return "reputation" in e.text and any(w in e.text for w in ("low reputation", "poor reputation", "bad reputation"))


# a header the message lacks or breaks (RFC 5322), unless the code says content (X.6.X)
@rule("notcompliantrfc")
def _notcompliantrfc(e: Error) -> bool:
    if e.says("notcompliantrfc"):
        return True
    if e.status_name == "contenterror" or e.command in BEFORE_DATA or "header" not in e.text:
        return False
    return any(w in e.text for w in ("missing", "rfc 5322", "rfc5322", "rfc 2822", "rfc2822", "compliant"))


# the sender's pace: too many messages, too fast
RATE_WORDS = (
    "too many messages",
    "too many mails",
    "too many emails",
    "too many e-mails",
    "slow down",
    "too fast",
    "too frequent",
    "sending rate",
)
# a count of messages over a span of time: "messages per hour", "number of emails in a day"
_PACE = lazy(
    r"\b(?:messages|mails|e-?mails|recipients)\b[^.;:]{0,40}?\b(?:per|an?|each|in an?|within an?)\s+(?:second|minute|hour|day)\b"
)


@rule("speeding")
def _speeding(e: Error) -> bool:
    if e.says("speeding") or any(w in e.text for w in RATE_WORDS):
        return True
    return ("per " in e.text or " a" in e.text) and _PACE.search(e.text[:GRAMMAR_SPAN]) is not None


# the client's reverse DNS (PTR) named: whatever else the refusal says, that is what it requires
PTR_WORDS = ("ptr record", "no ptr", "ptr-record", "reverse dns", "reverse hostname", "reverse lookup", "rdns")


@rule("requireptr")
def _requireptr(e: Error) -> bool:
    return e.status_name == "requireptr" or e.says("requireptr") or any(w in e.text for w in PTR_WORDS)


# SPF, DKIM or DMARC named with a failure: the message's authentication, not the client or the content
AUTH_NAMES = ("spf", "dkim", "dmarc")
_FAILED = r"(?:fail|not pass|invalid|reject|policy|align|verif|unauthori|not authorized)"
# within one clause, either way round ("SPF check failed", "failed DMARC alignment")
_AUTH_FAILED = lazy(
    r"\b(?:spf|dkim|dmarc)\b[^.;:]{0,40}?" + _FAILED + r"|" + _FAILED + r"[^.;:]{0,40}?\b(?:spf|dkim|dmarc)\b"
)


@rule("authfailure")
def _authfailure(e: Error) -> bool:
    if e.status_name == "authfailure" or e.says("authfailure"):
        return True
    if not any(w in e.text for w in AUTH_NAMES):
        return False
    return _AUTH_FAILED.search(e.text[:GRAMMAR_SPAN]) is not None


for _name in ("exceedlimit", "toomanyconn"):
    RULES[_name] = _code_or_phrase(_name)


def _syntax_reply(reply: str) -> bool:
    return reply.isdigit() and (400 < int(reply) < 408 or 499 < int(reply) < 508)  # RFC 5321 500-504


def find(
    status: str,
    reply: str,
    command: str,
    diagnostic: str,
    diagnostic_type: str = "SMTP",
    action: str = "",
    preset: str = "",
    source: str = "",
) -> str:
    """One reason for one failed recipient. `source`: "gateway" when a content-filtering gateway
    wrote the report, "relay" when the report passes on another server's reply, else ""."""
    if preset and preset not in RETRY:
        return preset
    if status.startswith("2."):
        return "delivered"
    text = unfold(diagnostic.lower())
    if QUEUE_TRAILER in text:
        # qmail's closing line. A lasting cause stated above it (an unknown user, a block) is
        # the reason; a passing one (a timeout, a busy server) retried until the queue gave up
        # is an expiry. (A format's "expired" came from this very line: not a cause.)
        head = text
        while QUEUE_TRAILER in head:  # removing one may join its neighbours into another
            head = head.replace(QUEUE_TRAILER, " ")
        cause = find(
            status, reply, command, head, diagnostic_type, action, "" if preset == "expired" else preset, source
        )
        if cause not in PASSING:
            return cause
    status_name = STATUS_REASON.get(status, "")
    dtype = (diagnostic_type or "SMTP").upper()
    command = command or _implied_command(text)
    reason = ""
    error = Error(status, status_name, reply, command, text, source)
    # Postfix's own diagnostic type still carries the remote server's reply when there was one
    if dtype == "SMTP" or (dtype == "X-POSTFIX" and reply):
        for name in FIRST_ORDER:
            # a format's own reason stands unless a reason earlier in the order fits
            if name == preset or RULES[name](error):
                reason = name
                break
    if not reason:
        reason = preset if preset and preset not in ("undefined", "onhold") else ""
        reason = reason or _another(error, dtype, action)
        if reason == "undefined":
            reason = ""
        if not reason and action in ("delayed", "expired"):
            reason = "expired"
        if not reason:
            if includes("vacation", text):
                return "vacation"
            return "onhold" if text else "undefined"
    if reason == "hostunknown" and (status[:1] == "4" or (not status and reply[:1] == "4")):
        return "networkerror"  # a transient name-service failure, not a domain that does not exist
    return reason


def _implied_command(text: str) -> str:
    """The dialogue step a report names without the command's own word: Exim's "after end of
    data", qmail's "greeting failed", "after initial connection"."""
    if "end of data" in text:
        return "DATA"
    if "greeting" in text or "initial connection" in text or "banner" in text:
        return "CONN"
    return ""


def _another(error: Error, dtype: str, action: str) -> str:
    status, status_name, reply, command, text = error.status, error.status_name, error.reply, error.command, error.text
    if status_name and status_name not in RETRY and dtype == "SMTP":
        return status_name
    for name in SECOND_ORDER:
        if name == "expired" and status_name == "networkerror" and "expire" not in text:
            # an X.4.X code that names the connection (X.4.2 "bad connection") over a bare
            # "timed out"; a report that says the message expired still gave up on it
            continue
        if name == "systemerror" and status_name in ("", "securityerror") and _refusal(text) == "policyviolation":
            return "policyviolation"  # before RFC 5321's stock 554 "Transaction failed"
        if includes(name, text):
            return name
    if status_name in ("", "securityerror"):
        # a policy code (X.7.X) or none: the words may still name who was refused. RFC 3463's
        # X.7.X is itself the refusal, so there the words need only name whom it is about
        found = _refusal(text, error.subject == "7")
        if found:
            return found
    if dtype.startswith("X-UNIX") and status[2:] in ("0.0", "2.0"):
        # RFC 3464's X-Unix type: a local delivery program or file failed, and a generic code says no more
        return "mailererror"
    if status_name == "expired" and status[2:] == "4.1" and any(w in text for w in BROKEN_WORDS):
        # X.4.1 "no answer from host" names an expiry when the reporter gave up waiting; a
        # connection that was made and then broke (or could not be made at all) is the network
        return "networkerror"
    if status_name:
        return status_name
    if dtype != "SMTP":
        # a report type the first pass skipped (X-Notes, X-Unknown, ...): its words still count
        for name in FIRST_ORDER:
            if RULES[name](error):
                return name
    head = status[:3]
    if head in ("5.6", "4.6"):
        return "contenterror"
    if head in ("5.7", "4.7"):
        return "securityerror"
    if dtype.startswith("X-UNIX"):
        return "mailererror"
    if head in ("5.3", "4.3") and ("system" in text or "server" in text):
        return "systemerror"  # RFC 3463 X.3.X: the destination mail system's own status
    if _syntax_reply(reply):
        return "syntaxerror"
    if action in ("delayed", "expired"):
        return "expired"
    if command in ("EHLO", "HELO"):
        return "blocked"
    found = _transport(text) or family(text)
    if found:
        return found
    if _permanent(status, reply) and command not in NOT_RCPT and _addressee_is(_ADDRESSEE_REFUSED, text):
        # nothing else said and a permanent failure: the addressee with a negation in one clause
        # ("that recipient is not valid here", "the address you wrote is wrong") is the address refused
        return "userunknown"
    # an unmapped detail still has its RFC 3463 subject: X.4.X is the network or routing
    if head in ("5.4", "4.4"):
        return "networkerror"
    return ""


# The last resort before "onhold": the vocabulary of name resolution and of transport. A
# text about DNS that says the name is gone is an unknown host; one that says the lookup
# failed for now, or that talks about connections, is a network error.
DNS_WORDS = (
    "dns",
    "mx record",
    "mx host",
    " mx ",
    "type=mx",
    "'mx'",
    "no mx",
    "name server",
    "nameserver",
    "resolve",
    "name resolution",
    "lookup",
    "nxdomain",
)
GONE_WORDS = (
    "does not exist",
    "doesn't exist",
    "non-existent",
    "nonexistent",
    "no mx",
    "no valid mx",
    "not found",
    "no such",
    "no relevant answers",
    "unknown",
    "no a record",
    "no address record",
)
PASSING_WORDS = ("temporar", "try again", "timeout", "timed out", "servfail", "later")
BROKEN_WORDS = (
    "read error",
    "write error",
    "connection died",
    "lost connection",
    "connection reset",
    "connection closed",
    "closed connection",
    "broken pipe",
    "establish",
    "unreachable",
)
TRANSPORT_WORDS = (
    "connect",
    "network",
    "unreachable",
    "timed out",
    "timeout",
    "mail loop",
    "loop detected",
    "hops",
    "hop count",
    "socket",
)


def _transport(text: str) -> str:
    if "queue" in text and any(
        w in text for w in ("too long", "longer than", "expired", "lifetime", "too old", "timed out")
    ):
        return "expired"  # the queue gave up on the message
    dns = any(w in text for w in DNS_WORDS)
    gone = any(w in text for w in GONE_WORDS)
    # "domain" alone is no DNS word; a domain said not to exist (or to be unknown) is
    if dns or (gone and "domain" in text):
        if any(w in text for w in PASSING_WORDS):
            return "networkerror"
        if any(w in text for w in SENDER_WORDS):
            return "rejected"  # the sender's domain does not resolve: a refusal of the sender
        if gone and not any(w in text for w in REFUSAL_WORDS):  # not "rejected: domain reputation unknown"
            return "hostunknown"
        if dns and any(w in text for w in ("fail", "error", "lookup", "could not", "cannot", "unable")):
            return "networkerror"
    if any(w in text for w in TRANSPORT_WORDS):
        return "networkerror"
    return ""


# Who a refusal is about, from its words: the sending host (its IP, a block list) is a
# block, the sender's address a rejection, a named policy a policy violation.
CLIENT_WORDS = (
    "your ip",
    "ip address",
    "this ip",
    "sending ip",
    " ip ",
    "client",
    "your host",
    "your server",
    "your network",
    "sending server",
    "rbl",
    "dnsbl",
    "spamhaus",
    "blacklist",
    "blocklist",
    "block list",
    "black list",
    "(bl)",
    "deny list",
    "denylist",
)
SENDER_WORDS = ("sender", "mail from", "envelope from", "from address", "from header", "your domain")
REFUSAL_WORDS = (
    "block",
    "bloqu",
    "blacklist",
    "blocklist",
    "listed",
    "banned",
    "denied",
    "refus",
    "reject",
    "violat",
    "not permitted",
    "not allowed",
    "prohibit",
    "not accept",
    "deny",
    " list",
    "trap",
)


def _refusal(text: str, refused: bool = False) -> str:
    if refused:
        if "authenticat" in text:
            return ""  # the client's own authentication (RFC 4954) is the security class's own subject
    elif not any(w in text for w in REFUSAL_WORDS):
        return ""
    if any(w in text for w in CLIENT_WORDS):
        return "blocked"
    if any(w in text for w in SENDER_WORDS):
        return "rejected"
    if "policy" in text or "attachment" in text:
        return "policyviolation"  # a named policy, or a kind of attachment the site does not take
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
