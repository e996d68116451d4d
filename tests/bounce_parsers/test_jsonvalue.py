"""JSON values read with json's C scanner, without the json package: the same values and the
same refusals as json.loads / JSONDecoder.raw_decode, also in a process that never imported json."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bounce_parsers.jsonvalue import loads, raw_decode

CASES = [
    '{"a": [1, 2.5, "x\\u00e9", null, true, false, NaN, -Infinity]}',
    "  [1] ",
    "[1] x",
    "",
    "\ufeff{}",
    '{"a":',
    '{"a": "line\nbreak"}',
    "nope",
    '"s"',
    " 12 ",
]


def _outcome(fn, text: str) -> object:  # type: ignore[no-untyped-def]
    try:
        return repr(fn(text))
    except ValueError:
        return ValueError


@pytest.mark.parametrize("text", CASES)
def test_values_and_refusals_are_json_s(text: str) -> None:
    assert _outcome(loads, text) == _outcome(json.loads, text)
    assert _outcome(raw_decode, text) == _outcome(json.JSONDecoder().raw_decode, text)


def test_malformed_json_is_refused_without_the_json_package() -> None:
    """The C scanner raises json.decoder's error class, found only if json was imported; without
    it the refusal must still be a ValueError, and json must stay unimported."""
    code = (
        "import sys\n"
        "from bounce_parsers.jsonvalue import loads, raw_decode\n"
        "assert raw_decode('{\"a\": 1} tail') == ({'a': 1}, 8)\n"
        "for bad in ('{\"a\": \"x\\ny\"}', '{\"a\":', '[1,]'):\n"
        "    try:\n"
        "        loads(bad)\n"
        "    except ValueError:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit('accepted ' + repr(bad))\n"
        "assert 'json' not in sys.modules and 're' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
