"""Regexes compiled on first use.

Compiling the ~180 module-level patterns cost ~25 ms of every process start, though one
message meets only a few of the formats. `lazy()` stands in for `re.compile()` at module level:
the first attribute lookup compiles the pattern and binds its methods on the stand-in, so later
calls cost what a compiled pattern's do."""

from __future__ import annotations

import re

_BOUND = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split", "pattern", "flags")


class _Lazy:
    def __init__(self, pattern: str, flags: int) -> None:
        self._args = (pattern, flags)

    def __getattr__(self, name: str) -> object:
        compiled = re.compile(*self._args)
        for attr in _BOUND:
            setattr(self, attr, getattr(compiled, attr))
        return getattr(compiled, name)


def lazy(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """re.compile(pattern, flags), deferred to the pattern's first use."""
    return _Lazy(pattern, flags)  # type: ignore[return-value]
