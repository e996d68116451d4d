"""Which phrases of a table occur in a text, without a substring test per phrase.

A phrase is a plain string (a substring of the text) or a tuple of pieces that appear in that
order. Testing every phrase of a reason against every diagnostic cost ~85,000 substring tests
over the development corpus. Instead each phrase is filed under one key that any text holding
it must show among its whitespace-separated words:
- a word strictly inside the phrase ("no such user": "such") is a whole word of the text;
- otherwise the phrase's last word starts a word of the text ("invalid address": "addr"), or
  (when that word is shorter than four characters) its first word ends one.
A text's words, their first and their last four characters form its features; the tables are
searched only for the phrases whose key is among them, and those are confirmed with the plain
test. Which keys a word yields is remembered per word (a report's words recur from text to
text). Phrases without a usable key (one short word) are tested directly; those with a non-ASCII
character only on texts that have one.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

KEY = 4  # characters of a word's start and end kept as keys
# keys of the three kinds share one set: a start or an end is marked by a character that no
# whitespace-separated word holds
START, END = " ", "\n"
Phrase = str | tuple[str, ...]

MAX_WORDS = 16384  # words whose keys an index remembers


def features(text: str) -> frozenset[str]:
    """A text's words, each word's start (START + 4 characters) and end (END + 4 characters)."""
    words = set(text.split())
    return frozenset([*words, *[START + w[:KEY] for w in words], *[END + w[-KEY:] for w in words]])


def _word(piece: str) -> bool:
    return bool(piece) and piece.split() == [piece]


def key_of(phrase: str) -> str | None:
    """A whole word, a word's start or a word's end (see features()) that a text holding the
    phrase must show, or None; the longest whole word, which says most, when there is one."""
    pieces = phrase.split(" ")
    inner = [p for p in pieces[1:-1] if _word(p)]
    if inner:
        return max(inner, key=len)
    if len(pieces) < 2:
        return None
    first, last = pieces[0], pieces[-1]
    if _word(last) and len(last) >= KEY:
        return START + last[:KEY]
    if _word(first) and len(first) >= KEY:
        return END + first[-KEY:]
    return None


def _in_order(text: str, pieces: tuple[str, ...]) -> bool:
    """Do the pieces appear in this order? (str.find chain: linear, no backtracking)"""
    pos = 0
    for piece in pieces:
        pos = text.find(piece, pos)
        if pos < 0:
            return False
        pos += len(piece)
    return True


class PhraseIndex:
    """Several named tables' phrases filed by key together: `names_in(text)` is the set of the
    names whose table has a phrase that occurs in the text, found in one pass for all tables
    (the reason rules ask a text about ~15 reasons: one key lookup instead of one per reason)."""

    __slots__ = ("keyed", "direct", "direct_not_ascii", "word_keys")

    def __init__(self, tables: Mapping[str, Iterable[Phrase]]) -> None:
        keyed: dict[str, list[tuple[str, Phrase]]] = {}
        direct: list[tuple[str, Phrase]] = []
        not_ascii: list[tuple[str, Phrase]] = []  # keyless phrases only a text with a non-ASCII character can hold
        for name, phrases in tables.items():
            for phrase in phrases:
                if not phrase:
                    continue
                if isinstance(phrase, str):
                    key = key_of(phrase)
                else:  # every piece must occur: file the pair under a whole word of any piece, if one has
                    keys = [k for k in map(key_of, phrase) if k is not None]
                    key = max(keys, key=lambda k: (k[0] not in (START, END), len(k))) if keys else None
                if key is None:
                    (direct if "".join(phrase).isascii() else not_ascii).append((name, phrase))
                else:
                    keyed.setdefault(key, []).append((name, phrase))
        self.keyed = {k: tuple(v) for k, v in keyed.items()}
        self.direct = tuple(direct)
        self.direct_not_ascii = tuple(not_ascii)
        self.word_keys: dict[str, tuple[str, ...]] = {}  # word -> the keys among its features

    def _hits(self, text: str) -> set[str]:
        """The keys among the text's features (see features()), found word by word."""
        hits: set[str] = set()
        known = self.word_keys
        for word in set(text.split()):
            keys = known.get(word)
            if keys is None:
                keys = tuple(k for k in (word, START + word[:KEY], END + word[-KEY:]) if k in self.keyed)
                if len(known) >= MAX_WORDS:
                    known.clear()
                known[word] = keys
            if keys:
                hits.update(keys)
        return hits

    def names_in(self, text: str) -> set[str]:
        found: set[str] = set()
        # most diagnostics are ASCII: the Chinese, Japanese and Cyrillic phrases (one "word" each, no key)
        # are tried only on a text that has a character outside it
        direct = self.direct if text.isascii() else self.direct + self.direct_not_ascii
        for name, phrase in direct:
            if name not in found and (phrase in text if isinstance(phrase, str) else _in_order(text, phrase)):
                found.add(name)
        for key in self._hits(text):
            for name, phrase in self.keyed[key]:
                if name not in found and (phrase in text if isinstance(phrase, str) else _in_order(text, phrase)):
                    found.add(name)
        return found
