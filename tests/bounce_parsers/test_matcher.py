"""The phrase index finds a reason's phrase exactly when a plain substring test of every phrase
would: phrases glued to other words, split by other whitespace, cut short or in pieces."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bounce_parsers.reasons.matcher import Phrase, PhraseIndex, _in_order, features, key_of
from bounce_parsers.reasons.phrases import PHRASES

INDEX = PhraseIndex(PHRASES)
ALL_PHRASES = [p for table in PHRASES.values() for p in table if p]


def brute(table: tuple[Phrase, ...], text: str) -> bool:
    return any(p in text if isinstance(p, str) else _in_order(text, p) for p in table if p)


def test_every_phrase_is_found_alone_and_glued() -> None:
    for name, table in PHRASES.items():
        for phrase in table:
            if not phrase:
                continue
            pieces = [phrase] if isinstance(phrase, str) else list(phrase)
            for text in (" ".join(pieces), "x" + "x".join(pieces) + "x", "550 " + " ... ".join(pieces) + ".\n"):
                assert name in INDEX.names_in(text), (name, phrase, text)


def test_keys_hold_for_their_phrase() -> None:
    for phrase in ALL_PHRASES:
        for piece in [phrase] if isinstance(phrase, str) else phrase:
            key = key_of(piece)
            if key is not None:
                assert key in features("glued" + piece + "glued"), (piece, key)


_FILLER = st.sampled_from(["", " ", "  ", "\t", "\n", "x", "-", ".", "5.1.1 ", "\xa0", "ab", "<a@b.example>"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    out = [draw(_FILLER)]
    for _ in range(draw(st.integers(0, 4))):
        phrase = draw(st.sampled_from(ALL_PHRASES))
        pieces = [phrase] if isinstance(phrase, str) else list(phrase)
        for piece in pieces:
            # the whole piece, or a piece cut or with a space turned into other whitespace
            cut = draw(st.integers(0, 3))
            if cut == 1:
                piece = piece[1:]
            elif cut == 2:
                piece = piece[:-1]
            elif cut == 3:
                piece = piece.replace(" ", draw(st.sampled_from(["\t", "\n", "  ", "_"])), 1)
            out += [piece, draw(_FILLER)]
    return "".join(out)


@settings(max_examples=2000, deadline=None)
@given(texts())
def test_index_agrees_with_a_test_per_phrase(text: str) -> None:
    found = INDEX.names_in(text)
    for name, table in PHRASES.items():
        assert (name in found) == brute(table, text), (name, text)


def test_provider_keys_hold_no_newline() -> None:
    # provider_reason looks for them in "host\ndiagnostic": a key with a newline could match across
    from bounce_parsers.reasons.providers import _KEYS, PROVIDERS

    assert not any("\n" in k for k in _KEYS)
    assert not any("\n" in n for needles, _, _ in PROVIDERS for n in needles)
