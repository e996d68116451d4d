"""python -m bounce_parsers FILE... -> one JSON line per file."""

from __future__ import annotations

import atexit
import gc
import os
import sys

from .classify import Classification, classify

# JSON string escapes, as json.dumps(..., ensure_ascii=False) writes them: the quote, the
# backslash and the control characters. Writing the fixed line shape here spares every
# process the json package's import (~0.8 ms, with the regexes its decoder compiles).
_ESCAPES: dict[int, str] = {i: f"\\u{i:04x}" for i in range(0x20)}
_ESCAPES.update({0x22: '\\"', 0x5C: "\\\\", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})


def _string(value: object) -> str:
    if isinstance(value, str):
        if value.isprintable() and '"' not in value and "\\" not in value:
            return '"' + value + '"'  # nothing to escape (printable: no control character)
        return '"' + value.translate(_ESCAPES) + '"'
    import json  # not a string (never, today): whatever json makes of it

    return json.dumps(value, ensure_ascii=False)


def encode(path: str, c: Classification) -> str:
    """The JSON line json.dumps(..., ensure_ascii=False) gives for this result."""
    recipients = ", ".join(
        f'{{"address": {_string(r.address)}, "status": {_string(r.status)}, "reply": {_string(r.reply)}, '
        f'"reason": {_string(r.reason)}, "hard": {"true" if r.hard else "false"}, '
        f'"diagnostic": {_string(r.diagnostic)}}}'
        for r in c.recipients
    )
    return f'{{"file": {_string(path)}, "kind": {_string(c.kind)}, "recipients": [{recipients}]}}'


def line_for(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        import json

        return json.dumps({"file": path, "kind": "none", "recipients": [], "error": str(exc)})
    return encode(path, classify(raw))


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m bounce_parsers FILE...", file=sys.stderr)
        return 2
    out = sys.stdout
    for path in paths:
        out.write(line_for(path) + "\n")
    return 0


def run() -> None:
    """The command: main(), then out of the process without tearing the interpreter down.

    Everything is written and flushed and the exit handlers (the regex cache's save) have run;
    what os._exit skips is freeing each module and object one by one, ~3 % of a corpus run.
    The modules' objects live until then, so the collector is told to leave them alone, and it
    runs less often: a message's objects are freed by reference counting when it is done, and the
    default threshold (a collection every 700 new containers) spent ~1 % of a corpus run."""
    gc.freeze()
    gc.set_threshold(10_000, 50, 50)
    code = main()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
