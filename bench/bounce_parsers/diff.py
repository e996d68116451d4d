"""Show per-file mismatches between a classifier output (JSON lines) and expected.json.

usage: python bench/bounce_parsers/diff.py expected.json OUT.jsonl [--reasons]"""

from __future__ import annotations

import json
import re
import sys


def key(path: str) -> str:
    m = re.search(r"((?:bsd|not)/[^/]+\.eml)$", path)
    return m.group(1) if m else path


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as fh:
        truth = json.load(fh)["files"]
    with open(sys.argv[2], encoding="utf-8") as fh:
        preds = {key(json.loads(ln)["file"]): json.loads(ln) for ln in fh if ln.strip()}
    for name, t in sorted(truth.items()):
        p = preds.get(name, {"kind": "none", "recipients": []})
        got = {(r.get("address") or "").lower(): r for r in p.get("recipients", [])}
        if not t.get("bounce"):
            if p["kind"] != "none" or got:
                print(f"FP   {name}: {p['kind']} {list(got)}")
            continue
        for i, e in enumerate(t["recipients"]):
            addr = (e.get("recipient") or "").lower()
            g = got.get(addr) if addr else (p["recipients"][i] if i < len(p["recipients"]) else None)
            if g is None:
                print(f"ADDR {name}: want {addr} {e['reason']} got {p['kind']} {list(got)}")
            elif g["reason"] != e["reason"] or g["hard"] is not e["hard"]:
                print(
                    f"RSN  {name}: want {e['reason']} {e['status']} got {g['reason']} {g['status']} "
                    f"{g['reply']} | {g['diagnostic'][:150]}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
