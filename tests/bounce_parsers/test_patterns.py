"""Start-up cost: importing bounce_parsers compiles no regex, and a pattern compiled lazily or
rebuilt from the per-interpreter cache is the very pattern re.compile() makes."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bounce_parsers
from bounce_parsers import patterns

REPO = Path(__file__).resolve().parents[2]


def _lazy_patterns() -> list[tuple[str, int]]:
    """(pattern, flags) of every module-level lazy pattern, also those inside tables."""
    found: list[tuple[str, int]] = []

    def visit(value: object, depth: int = 0) -> None:
        if isinstance(value, patterns._Lazy):
            found.append(value._args)
        elif isinstance(value, tuple | list) and depth < 3:
            for item in value:
                visit(item, depth + 1)

    for info in pkgutil.walk_packages(bounce_parsers.__path__, "bounce_parsers."):
        if info.name.endswith("__main__"):
            continue
        for value in vars(importlib.import_module(info.name)).values():
            visit(value)
    return found


def test_import_compiles_no_regex_and_skips_dataclasses_and_typing() -> None:
    # Counted in a fresh interpreter: before the lazy patterns, ~185 compiles ran at import.
    code = (
        "import sys, re, re._compiler as c, json\n"  # json compiles its own at import
        "n = [0]\n"
        "real = c.compile\n"
        "def counting(*a, **k):\n"
        "    n[0] += 1\n"
        "    return real(*a, **k)\n"
        "c.compile = counting\n"
        "import bounce_parsers\n"
        "print(n[0], 'dataclasses' in sys.modules, 'typing' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    compiles, dataclasses_loaded, typing_loaded = out.split()
    assert int(compiles) <= 1, out  # the one bytes pattern (mbox separators) stays eager
    assert dataclasses_loaded == "False"
    assert typing_loaded == "False"


def test_every_lazy_pattern_equals_re_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pattern equality compares the pattern, the flags and the compiled SRE code.
    monkeypatch.setattr(patterns, "_CACHE", str(tmp_path / "cache.marshal"))
    monkeypatch.setattr(patterns, "_table", {})
    monkeypatch.setattr(patterns, "_save_scheduled", True)  # written below, not at exit
    pairs = _lazy_patterns()
    assert len(pairs) > 150
    fresh = [patterns._compile(p, f) for p, f in pairs]
    patterns._save()
    monkeypatch.setattr(patterns, "_table", None)  # the next process: reads the file
    cached = [patterns._compile(p, f) for p, f in pairs]
    assert patterns._table is not None and len(patterns._table) == len(set(pairs))
    for (p, f), a, b in zip(pairs, fresh, cached, strict=True):
        expected = re.compile(p, f)
        assert a == expected and b == expected, p
        assert (b.groups, b.groupindex) == (expected.groups, expected.groupindex)


def test_a_damaged_cache_falls_back_to_compiling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache.marshal"
    cache.write_bytes(b"\x00not marshal")
    monkeypatch.setattr(patterns, "_CACHE", str(cache))
    monkeypatch.setattr(patterns, "_table", None)
    monkeypatch.setattr(patterns, "_save_scheduled", True)
    assert patterns._compile(r"(a)b+", re.I).fullmatch("ABB") is not None
    # a well-formed file whose code does not fit the pattern: _sre refuses it, we recompile
    monkeypatch.setattr(patterns, "_table", {(r"x(y)", 0): (32, b"\xff\xff\xff\xff", 1, {}, (None, None))})
    assert patterns._compile(r"x(y)", 0) == re.compile(r"x(y)")


def test_lazy_pattern_acts_as_compiled() -> None:
    lazy = patterns.lazy(r"(?P<w>b+)", re.I)
    assert lazy.search("aBBc").group("w") == "BB"  # type: ignore[union-attr]
    assert lazy.sub("-", "abba") == "a-a"
    assert lazy.pattern == "(?P<w>b+)"
    assert lazy.flags & re.I
    assert (lazy.groups, dict(lazy.groupindex)) == (1, {"w": 1})


def test_line_anchored_search_finds_what_re_finds() -> None:
    # "^X" under re.M is searched from newline to newline; the match must be re's own.
    samples = sorted((REPO / "tests" / "bounce_parsers" / "samples").glob("*/*.eml"))
    texts = [s.read_bytes().decode("latin-1").replace("\r\n", "\n") for s in samples[:40]]
    texts += [
        "",
        "\n",
        "x",
        "\n\n--- a\n",
        "Final-Recipient: rfc822; a@b.example\n",
        "a\n  b\nc: d\ne: f\nreceived: x\n",
    ]
    lines = [
        (p, f) for p, f in _lazy_patterns() if isinstance(p, str) and patterns.line_body(p) is not None and f & re.M
    ]
    assert len(lines) > 40
    for p, f in lines:
        lazy, plain = patterns.lazy(p, f), re.compile(p, f)
        for text in texts:
            for pos, endpos in ((0, len(text)), (1, len(text)), (len(text) // 2, len(text)), (0, len(text) // 3)):
                got, want = lazy.search(text, pos, endpos), plain.search(text, pos, endpos)
                assert (got and (got.span(), got.groups())) == (want and (want.span(), want.groups())), (p, pos)


def test_line_body_only_when_the_anchor_covers_the_whole_pattern() -> None:
    assert patterns.line_body(r"^a|b") is None
    assert patterns.line_body(r"^[|]x") == "[|]x"
    assert patterns.line_body(r"^[]|]x") == "[]|]x"
    assert patterns.line_body(r"^(?:a|b)\|c") == r"(?:a|b)\|c"
    assert patterns.line_body(r"a^b") is None


def test_original_marker_in_lower_case_is_the_case_blind_one() -> None:
    from bounce_parsers import report

    letters = re.sub(r"\\.", "", report._MARKERS)
    assert letters == letters.lower()  # else the lower-cased search would miss what re.I finds
    samples = sorted((REPO / "tests" / "bounce_parsers" / "samples").glob("*/*.eml"))
    texts = [s.read_bytes().decode("latin-1") for s in samples]
    texts += ["x\n--- ORIGINAL Message ---\n", "Content-Type: Message/RFC822\n", "*** The Original Message\n"]
    for text in texts:
        if text.isascii():
            a, b = report._MARKERS_LOWER.search(text.lower()), report.ORIGINAL_MARKERS.search(text)
            assert (a and a.span()) == (b and b.span()), text[:80]
