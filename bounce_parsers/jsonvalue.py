"""JSON values read with the json package's own C scanner, without importing the package.

`import json` pulls in `re` (its decoder's whitespace patterns), and `re` its flag enum, functools
and collections: ~30 M instructions, more than a whole SES notification costs to read. The C
scanner (`_json.make_scanner`) is what json.JSONDecoder uses; it needs only the decoder's
settings. Where CPython has no `_json`, the json package does the work."""

from __future__ import annotations

_WHITESPACE = " \t\n\r"  # json's WHITESPACE, [ \t\n\r]*
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Settings:
    """What json.JSONDecoder() hands its scanner: the defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


def _scanner() -> object:
    try:
        from _json import make_scanner
    except ImportError:
        import json

        return json.JSONDecoder().raw_decode
    return make_scanner(_Settings())  # type: ignore[arg-type]  # its settings by attribute


_scan = None


def raw_decode(text: str, start: int = 0) -> tuple[object, int]:
    """json.JSONDecoder().raw_decode(text, start): the value at `start`, and where it ends.
    Raises ValueError (json.JSONDecodeError) when no value starts there."""
    global _scan
    if _scan is None:
        _scan = _scanner()
    try:
        return _scan(text, start)  # type: ignore[operator]
    except StopIteration as err:
        raise ValueError(f"Expecting value: char {err.value}") from None
    except SystemError:
        # malformed JSON: the C scanner raises json.decoder's error class, taken from sys.modules;
        # with the package never imported (CPython 3.11) it fails to raise anything else
        raise ValueError("Malformed JSON") from None


def loads(text: str) -> object:
    """json.loads(text) for a str: one value, nothing but whitespace around it."""
    if text.startswith("\ufeff"):
        raise ValueError("Unexpected UTF-8 BOM")
    value, end = raw_decode(text, len(text) - len(text.lstrip(_WHITESPACE)))
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"Extra data: char {end}")
    return value
