"""Regexes compiled on first use, from a per-interpreter cache of compiled code.

Compiling the ~180 module-level patterns in `re`'s pure-Python parser cost ~25 ms of every
process start. `lazy()` stands in for `re.compile()` at module level: the first attribute lookup
compiles the pattern and binds its methods on the stand-in, so later calls cost what a compiled
pattern's do. The compiled form (the SRE code `re` would hand to `_sre.compile`) is kept in
__pycache__ beside the .pyc files, keyed by the interpreter and SRE version like they are, so a
later process skips the parser; `_sre` validates that code, and anything unexpected falls back
to `re.compile`.

A "^X" pattern under re.M (the anchor covering all of it) is searched only where lines start:
see _line_search."""

from __future__ import annotations

import _sre  # type: ignore[import-not-found]  # CPython's regex engine, no stubs
import atexit
import marshal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

# re's flags as plain numbers (the values of re.I, re.M, re.S, re.X): importing `re` itself costs
# ~25 M instructions of every process start (its flag enum pulls in enum, functools and
# collections), and code compiled from the cache below never needs it.
IGNORECASE = 2
MULTILINE = 8
DOTALL = 16
VERBOSE = 64

_BOUND = (
    "search",
    "match",
    "fullmatch",
    "finditer",
    "findall",
    "sub",
    "subn",
    "split",
    "scanner",
    "pattern",
    "flags",
    "groups",
    "groupindex",
)
_CACHE = os.path.join(
    os.path.dirname(__file__), "__pycache__", f"patterns.{sys.implementation.cache_tag}-{_sre.MAGIC}.marshal"
)
# SRE code words stored as one bytes object each: marshal loads that ~20x faster than int lists
_CODE = {2: "H", 4: "I", 8: "Q"}[_sre.CODESIZE]
MAX_ENTRIES = 2000  # a file grown past this (patterns edited over time) starts afresh

Entry = tuple[int, bytes, int, dict[str, int], tuple[str | None, ...]]
_table: dict[tuple[str, int], Entry] | None = None


def _load() -> dict[tuple[str, int], Entry]:
    try:
        with open(_CACHE, "rb") as fh:
            # loads(read()): load(fh) reads the file object piece by piece (~8x the instructions)
            table = marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return table if isinstance(table, dict) and len(table) <= MAX_ENTRIES else {}


def _save() -> None:
    """Write the table atomically; a read-only install simply keeps compiling."""
    tmp = f"{_CACHE}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(_CACHE), exist_ok=True)
        with open(tmp, "wb") as fh:
            marshal.dump(_table, fh)
        os.replace(tmp, _CACHE)
    except (OSError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:  # contextlib.suppress would cost its import (collections, functools)
            return


def _compile(pattern: str, flags: int) -> re.Pattern[str]:  # or bytes (one pattern)
    global _table
    if _table is None:
        _table = _load()
    entry = _table.get((pattern, flags))
    if entry is not None:
        try:
            flags_, code, *groups = entry
            # memoryview, not array: importing array also imports collections (~3 M instructions)
            return _sre.compile(pattern, flags_, memoryview(code).cast(_CODE).tolist(), *groups)  # type: ignore[call-overload]
        except (RuntimeError, TypeError, ValueError):
            pass
    try:
        # what re._compiler.compile does, keeping the pieces
        from array import array
        from re import _compiler, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern, flags)
        groupindex = dict(parsed.state.groupdict)
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        words = array(_CODE, _compiler._code(parsed, flags))
        entry = (flags | parsed.state.flags, words.tobytes(), parsed.state.groups - 1, groupindex, tuple(indexgroup))
        compiled: re.Pattern[str] = _sre.compile(pattern, entry[0], words.tolist(), *entry[2:])
    except Exception:  # noqa: BLE001 - another interpreter's internals: use the public way
        import re

        return re.compile(pattern, flags)
    if len(_table) >= MAX_ENTRIES:
        _table.clear()
    _table[(pattern, flags)] = entry
    _schedule_save()
    return compiled


_save_scheduled = False


def _schedule_save() -> None:
    global _save_scheduled
    if not _save_scheduled:
        _save_scheduled = True
        atexit.register(_save)


def line_body(pattern: str) -> str | None:
    """X when `pattern` is "^X" and the anchor applies to all of it (no top-level "|")."""
    if not pattern.startswith("^"):
        return None
    depth, i, size = 0, 1, len(pattern)
    while i < size:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a class: skip to its end ("]" first, or after "^", is a member)
            i += 2 if pattern[i + 1 : i + 2] == "^" else 1
            i += 1 if pattern[i : i + 1] == "]" else 0
            while i < size and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return None
        i += 1
    return pattern[1:]


def _line_search(anchored: re.Pattern[str], after_newline: re.Pattern[str]) -> object:
    """`anchored.search` for a "^X" pattern under re.M, tried only where a line starts.

    re's search tries a "^" pattern at every character; "\\nX" starts with a literal, so the
    engine skips from newline to newline at C speed. The match itself comes from `anchored`
    at the line start found, so callers get the very match object search would return."""

    def search(string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        pos = min(max(pos, 0), len(string))
        if pos == 0 or string[pos - 1] == "\n":
            m = anchored.match(string, pos, endpos)
            if m is not None:
                return m
        found = after_newline.search(string, pos, endpos)
        return None if found is None else anchored.match(string, found.start() + 1, endpos)

    return search


class _Lazy:
    def __init__(self, pattern: str, flags: int) -> None:
        self._args = (pattern, int(flags))

    def __getattr__(self, name: str) -> object:
        pattern, flags = self._args
        compiled = _compile(pattern, flags)
        for attr in _BOUND:
            setattr(self, attr, getattr(compiled, attr))
        body = line_body(pattern) if isinstance(pattern, str) and flags & MULTILINE and not flags & VERBOSE else None
        if body is not None:
            try:
                after_newline = _compile("\\n(?:" + body + ")", flags)
            except Exception:  # noqa: BLE001 - re.error: the pattern's body alone is no pattern
                after_newline = None
            if after_newline is not None:
                self.search = _line_search(compiled, after_newline)
        return getattr(self, name)


def lazy(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """re.compile(pattern, flags), deferred to the pattern's first use."""
    return _Lazy(pattern, flags)  # type: ignore[return-value]


def lazy_bytes(pattern: bytes, flags: int = 0) -> re.Pattern[bytes]:
    """lazy() for a bytes pattern."""
    return _Lazy(pattern, flags)  # type: ignore[arg-type, return-value]


_made: dict[tuple[str, int], re.Pattern[str]] = {}
MAX_MADE = 512


def regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """re.compile(pattern, flags) for a pattern built at run time, kept like re's own cache keeps
    the patterns of re.search() and re.sub(): through the compiled-code cache, without `re`."""
    key = (pattern, flags)
    found = _made.get(key)
    if found is None:
        if len(_made) >= MAX_MADE:
            _made.clear()
        found = _made[key] = _compile(pattern, flags)
    return found
