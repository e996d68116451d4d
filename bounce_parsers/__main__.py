"""python -m bounce_parsers FILE... -> one JSON line per file."""

from __future__ import annotations

import json
import sys

from .classify import classify

# one encoder for every line: json.dumps builds a new one per call when given options
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def line_for(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        return json.dumps({"file": path, "kind": "none", "recipients": [], "error": str(exc)})
    c = classify(raw)
    return _ENCODE(
        {
            "file": path,
            "kind": c.kind,
            "recipients": [
                {
                    "address": r.address,
                    "status": r.status,
                    "reply": r.reply,
                    "reason": r.reason,
                    "hard": r.hard,
                    "diagnostic": r.diagnostic,
                }
                for r in c.recipients
            ],
        }
    )


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m bounce_parsers FILE...", file=sys.stderr)
        return 2
    out = sys.stdout
    for path in paths:
        out.write(line_for(path) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
