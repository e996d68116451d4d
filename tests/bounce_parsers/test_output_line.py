"""`python -m bounce_parsers` writes each result as the JSON line json.dumps(..., ensure_ascii=False)
would: same field order, separators and escapes (quotes, backslashes, control characters)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bounce_parsers.__main__ import encode
from bounce_parsers.classify import Classification, Recipient

REPO = Path(__file__).resolve().parents[2]
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


def test_the_command_flushes_and_runs_exit_handlers_before_leaving(tmp_path: Path) -> None:
    # run() leaves with os._exit: what the interpreter's own exit would do must happen first
    mail = tmp_path / "bounce.eml"
    mail.write_bytes(b"From: MAILER-DAEMON@example.org\nSubject: x\n\nhello\n")
    code = (
        "import atexit, sys\n"
        "import bounce_parsers.__main__ as cli\n"
        "atexit.register(lambda: print('exit handler ran'))\n"
        "sys.argv = ['bounce_parsers', sys.argv[1]]\n"
        "cli.run()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as usual
    done = subprocess.run([sys.executable, "-c", code, str(mail)], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert json.loads(first)["file"] == str(mail)
    assert second == "exit handler ran"
    usage = subprocess.run([sys.executable, "-m", "bounce_parsers"], cwd=REPO, capture_output=True, text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr
