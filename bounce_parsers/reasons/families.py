"""Word families per reason: the last reading of a diagnostic that no code, command or phrase
decided. Each family is a thing the text talks about and a state it is in, as word stems in
the languages servers answer in ("mailbox" + "full", "message" + "too large", "account" +
"disabled"); a text holding one word of each belongs to the reason. Stems rather than
phrases, so a wording nobody listed still falls into its family.
"""

from __future__ import annotations

# what a mailbox is called
MAILBOX = (
    "mailbox",
    "mail file",  # Domino's
    "inbox",
    "account",
    "user",
    "recipient",
    "addressee",
    "boîte",
    "boite",
    "buzón",
    "buzon",
    "casella",
    "caixa",
    "postfach",
    "postvak",
    "cuenta",
    "konto",
)
SYSTEM = ("system", "server", "disk", "host", "spool", "queue")
MESSAGE = ("message", "mail", "e-mail", "email", "data")

# (reason, things, states); the first family whose thing and state both occur decides
FAMILIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # the message's own size
    (
        "mesgtoobig",
        ("size", "too large", "too big", "larger than"),
        ("exceed", "too large", "too big", "larger than", "maximum", "limit", "over "),
    ),
    # a mailbox without room
    (
        "mailboxfull",
        MAILBOX,
        (
            "full",
            "quota",
            "storage",
            "space",
            "capacity",
            "pleine",
            "plein",
            "lleno",
            "llena",
            "piena",
            "voll",
            "cheia",
        ),
    ),
    # a mailbox switched off
    (
        "suspend",
        MAILBOX,
        (
            "disabled",
            "deactivat",
            "suspend",
            "inactiv",
            "locked",
            "frozen",
            "closed",
            "terminated",
            "désactiv",
            "desactiv",
            "disattiv",
            "deaktiv",
            "gesperrt",
            "bloqueada",
        ),
    ),
    # the receiving system as a whole out of room, or not taking mail at all
    ("systemfull", SYSTEM, ("full", "storage", "space", "resources")),
    ("notaccept", ("accept", "smtp service", "null mx"), ("not accept", "no smtp service", "null mx")),
    # the queue or its retries gave up
    (
        "expired",
        ("retr", "attempt", "queue", "deliver", "delay"),
        ("giving up", "gave up", "too long", "expired", "exceeded", "for more than", " hours", " days"),
    ),
    # a fault of the receiving system
    (
        "systemerror",
        SYSTEM + ("internal", "local", "processing", "configuration"),
        ("error", "failure", "fault", "problem", "malfunction", "temporarily rejected", "unavailable"),
    ),
)


def family(text: str) -> str:
    """The reason of the first family the lower-case text belongs to, or ""."""
    for reason, things, states in FAMILIES:
        if reason == "mesgtoobig" and "quota" in text:
            continue  # a size against a quota is the mailbox's size, not the message's
        if any(w in text for w in things) and any(w in text for w in states):
            return reason
    return ""
