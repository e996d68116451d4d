"""`python -m bounce_parsers` writes each result as the JSON line json.dumps(..., ensure_ascii=False)
would: same field order, separators and escapes (quotes, backslashes, control characters)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bounce_parsers.__main__ import encode
from bounce_parsers.classify import Classification, Recipient

_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from('"\\\x00\x1f\x7f\n\r\t\b\f\u2028é'), max_size=40)


@settings(max_examples=500, deadline=None)
@given(path=_TEXT, kind=_TEXT, rows=st.lists(st.tuples(_TEXT, _TEXT, st.booleans()), max_size=3))
def test_line_is_what_json_dumps_writes(path: str, kind: str, rows: list[tuple[str, str, bool]]) -> None:
    recipients = tuple(Recipient(a, "5.1.1", "550", "userunknown", h, d, "", "failed") for a, d, h in rows)
    c = Classification(kind, recipients, "", None, None, None, (), "", "", "")
    expected = {
        "file": path,
        "kind": kind,
        "recipients": [
            {
                "address": r.address,
                "status": r.status,
                "reply": r.reply,
                "reason": r.reason,
                "hard": r.hard,
                "diagnostic": r.diagnostic,
            }
            for r in recipients
        ],
    }
    line = encode(path, c)
    assert line == json.dumps(expected, ensure_ascii=False)
    assert json.loads(line) == expected
