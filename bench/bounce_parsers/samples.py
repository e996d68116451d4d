"""Accuracy per family on the hand-written samples of tests/bounce_parsers/samples/.

usage: python bench/bounce_parsers/samples.py [--verbose]

Per family: detection (kind right, and a bounce names a recipient), address recall (expected
addresses reported), extra addresses reported, and reason / hard-soft accuracy over the
recipients whose table entry names a reason."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "bounce_parsers" / "samples"
sys.path.insert(0, str(REPO))

from bench.bounce_parsers.tables import print_family_table  # noqa: E402
from bounce_parsers import Classification, classify  # noqa: E402


def kind_ok(expected: str, c: Classification) -> bool:
    """'delay': a bounce whose every recipient is only delayed (the ledger records a delay)."""
    if expected == "delay":
        return c.kind == "bounce" and bool(c.recipients) and all(r.action == "delayed" for r in c.recipients)
    if expected == "bounce":
        return c.kind == "bounce" and bool(c.recipients) and any(r.action != "delayed" for r in c.recipients)
    return c.kind == expected


def load() -> dict[str, dict]:
    table = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
    return {k: v for k, v in table.items() if not k.startswith("_")}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, exp in sorted(load().items()):
        fam = name.split("/", 1)[0]
        c = classify((SAMPLES / name).read_bytes())
        s = stats[fam]
        s["files"] += 1
        ok = kind_ok(exp["kind"], c)
        s["detected"] += ok
        got = {r.address.lower(): r for r in c.recipients}
        want = {addr.lower() for addr, _, _ in exp["recipients"]}
        s["extra"] += len(set(got) - want)
        problems = [] if ok else [f"kind {c.kind} ({c.evidence})"]
        for addr, reason, hard in exp["recipients"]:
            r = got.get(addr.lower())
            s["addr_total"] += 1
            s["addr_ok"] += r is not None
            if r is None:
                problems.append(f"missing {addr}")
            if reason is not None:
                s["reason_total"] += 1
                s["reason_ok"] += r is not None and r.reason == reason
                if r is not None and r.reason != reason:
                    problems.append(f"{addr}: reason {r.reason}, want {reason}")
            if hard is not None:
                s["hard_total"] += 1
                s["hard_ok"] += r is not None and r.hard is hard
        problems += [f"extra {x}" for x in set(got) - want]
        if problems and a.verbose:
            print(f"{name}: " + "; ".join(problems))
    print_family_table(stats, "detection")
    return 0


if __name__ == "__main__":
    sys.exit(main())
