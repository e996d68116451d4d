"""Prefix-tree regexes for the phrase tables, precomputed.

Building a prefix tree of a few thousand characters of phrases in Python costs tens of
milliseconds at every start; the trees are kept in _tries.py, keyed by a checksum of their
phrases, and rebuilt here only when a table changed since (so a stale file costs time, never
correctness). Regenerate with `python -m bounce_parsers.reasons.gen_tries`.
"""

from __future__ import annotations

import re
import zlib

try:
    from ._tries import TRIES
except ImportError:  # pragma: no cover - the generated file is part of the package
    TRIES = {}


def checksum(words: list[str]) -> int:
    return zlib.crc32("\n".join(words).encode("utf-8"))


def build(words: list[str]) -> str:
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
        return "" if "" in node else body  # a word ends here: its prefix already matches

    return emit(trie)


def pattern(words: list[str]) -> str:
    """The prefix-tree regex for these words, from the precomputed table when it is current."""
    key = checksum(words)
    found = TRIES.get(key)
    return found if found is not None else build(words)
