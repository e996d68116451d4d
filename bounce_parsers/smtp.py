"""SMTP vocabulary read out of free text: enhanced status codes (RFC 3463), reply codes
(RFC 5321, 7504), and the SMTP command an error answered."""

from __future__ import annotations

from .patterns import lazy

# A code stands on its own, never inside a word: an address ("nobody525@", "user+550@"),
# a host name ("mx421.example.com", "mx-550.example"), a queue id ("4F5G421x") or a
# version string all glue letters, digits, dots or one of "_-+@" to it.
# The tests of what stands before a code follow its first digit (they look behind it too): a
# pattern that starts with the digit lets re skip straight to the positions holding one,
# where one that starts with a look-behind is tried at every character (~3x the cost).
# An enhanced status code: after a reply code's hyphen ("550-5.1.1") but not a word's
# ("mx-5.7.1"); a sentence's full stop may follow it, another label may not.
_STATUS = lazy(r"([245])(?<![\w.+@][245])(?<![^\d\s]-[245])\.(\d{1,3})\.(\d{1,3})(?![\w@]|\.\w)")
_IPV4 = lazy(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
# A reply code; a multi-line reply's hyphen ("550-5.1.1") may follow it.
_REPLY = lazy(r"([245](?<![-\w.+@][245])\d\d)(?![\w.@+])")
_VALID_REPLY = {
    "2": {"211", "214", "220", "221", "235", "250", "251", "252", "253"},
    "4": {"421", "450", "451", "452", "422", "430", "432", "453", "454", "455", "458", "459"},
    "5": {
        "550",
        "552",
        "553",
        "551",
        "521",
        "525",
        "523",
        "524",
        "530",
        "533",
        "534",
        "535",
        "538",
        "555",
        "556",
        "554",
        "500",
        "501",
        "502",
        "503",
        "504",
    },
}
_ALL_REPLIES = _VALID_REPLY["5"] | _VALID_REPLY["4"] | _VALID_REPLY["2"]

# Which command an error answered: the last one mentioned wins. Each word's test of what
# stands before it follows its first letter (see _STATUS): re skips to those letters.
_VERBS = ("HELO", "EHLO", "STARTTLS", "AUTH", "MAIL(?: FROM)?", "RCPT(?: TO)?", "DATA", "QUIT", "XFORWARD")
_COMMAND = lazy("(" + "|".join(f"{v[0]}(?<![A-Za-z0-9@.]{v[0]}){v[1:]}" for v in _VERBS) + ")(?![A-Za-z0-9@])")


def _prefer(first: str, second: str, reply: str = "") -> str:
    """Choose between two status codes for one error: the more specific one, or the one
    whose class agrees with the SMTP reply code."""
    if not first:
        return second
    if not second or first == second:
        return first
    if reply and first[0] != second[0]:
        if reply[0] == first[0]:
            return first
        if reply[0] == second[0]:
            return second
    if ".0.0" in first[1:]:
        return first if ".0.0" in second[1:] else second
    if ".0" in first and ".0" not in second:
        return second
    if ".0.0" in second[1:]:
        return first
    if first in ("4.4.7", "4.7.0") or first.startswith("5.3.") or first[1:4] in (".5.1", ".5.2", ".5.4", ".5.5"):
        return second
    if first == "5.1.1":
        return first if (".0" in second or second.startswith("5.5.")) else second
    if first == "5.1.3" and second.startswith("5.7."):
        return second
    return first


def prefer(status_field: str, in_text: str, reply: str = "") -> str:
    return _prefer(status_field, in_text, reply)


def find_status(text: str, reply: str = "") -> str:
    """The most telling enhanced status code in an error message, or ''."""
    if not text or "." not in text:
        return ""
    if _IPV4.search(text):
        text = _IPV4.sub("***", text)
    klass = reply[:1] if reply[:1] in ("2", "4", "5") else ""
    found: list[str] = []
    weak = ""
    for m in _STATUS.finditer(text):
        if klass and m.group(1) != klass:
            continue
        code = f"{m.group(1)}.{m.group(2)}.{m.group(3)}"
        if int(m.group(2)) > 7:
            continue
        if code[1:] == ".0.0" or code == "4.4.7":
            weak = weak or code
            continue
        found.append(code)
    if weak:
        found.append(weak)
    if not klass and any(c[0] != "2" for c in found):
        found = [c for c in found if c[0] != "2"]  # a transcript's "250 2.1.5 Ok" is not the error
    if not found:
        return ""
    best = found[0]
    for code in found[1:]:
        best = _prefer(best, code)
    return best


def find_reply(text: str, status: str = "") -> str:
    """The first plausible SMTP reply code in an error message, or ''."""
    if not text or "X-UNIX" in text.upper():
        return ""
    klass = status[:1] if status[:1] in ("2", "4", "5") else ""
    allowed = _VALID_REPLY[klass] if klass else _ALL_REPLIES
    success = ""
    for m in _REPLY.finditer(text):
        if m.group(1) in allowed:
            if m.group(1)[0] != "2":
                return m.group(1)
            success = success or m.group(1)
    return success


def find_command(text: str) -> str:
    """'RCPT', 'MAIL', 'DATA', ... named in an error message, or ''."""
    last = ""
    for m in _COMMAND.finditer(text):
        word = m.group(1)[:4]
        last = "STARTTLS" if word == "STAR" else ("XFORWARD" if word == "XFOR" else word)
    return last


# A session transcript marks the client's lines and the server's with arrows (Sendmail's ">>>" and
# "<<<", MDaemon's and many Windows servers' "-->" and "<--", after a time stamp or not).
_SENT = (">>> ", "--> ")
_HEARD = ("<<< ", "<-- ")
MAX_TRANSCRIPT_LINES = 400


def transcript_error(text: str) -> tuple[str, str]:
    """(command, reply) of the first error reply (4xx/5xx) in a session transcript: the command
    is the one on the last client line before it. ('', '') when the text has no such dialogue."""
    if "<<< " not in text and "<-- " not in text:
        return "", ""
    sent = ""
    for line in text.split("\n", MAX_TRANSCRIPT_LINES)[:MAX_TRANSCRIPT_LINES]:
        for arrow in _SENT:
            at = line.find(arrow)
            if at >= 0:
                sent = line[at + 4 :]
        for arrow in _HEARD:
            at = line.find(arrow)
            if at >= 0:
                heard = line[at + 4 :].strip()
                if heard[:1] in ("4", "5") and heard[:3].isdigit():
                    return find_command(sent), heard
    return "", ""


def is_status(code: str) -> bool:
    return bool(_STATUS.fullmatch(code or ""))
