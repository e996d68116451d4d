"""Reason accuracy per family on the project's own samples (tests/bounce_parsers/reason_samples.py).

usage: python bench/bounce_parsers/reasons.py [--code DIR] [--misses] [--holdout] [--round N] [--validation]

--code DIR imports bounce_parsers from another checkout (e.g. the main branch) to compare
before/after on the same samples. Prints one line per family: samples, reason %, hard/soft %.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def load_samples():
    spec = importlib.util.spec_from_file_location("reason_samples", REPO / "tests/bounce_parsers/reason_samples.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["reason_samples"] = mod
    spec.loader.exec_module(mod)
    return mod.SAMPLES, mod.HOLDOUT, mod.judge, mod.ROUNDS


def load_validation():
    """The validation rounds (tests/bounce_parsers/reason_validation.py)."""
    sys.path.insert(0, str(REPO))
    from tests.bounce_parsers import reason_validation

    sys.path.remove(str(REPO))
    return reason_validation.SAMPLES


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", default=str(REPO), help="checkout whose bounce_parsers to measure")
    ap.add_argument("--misses", action="store_true", help="list the samples judged wrongly")
    ap.add_argument("--holdout", action="store_true", help="measure the held-out samples instead")
    ap.add_argument("--round", type=int, default=0, help="only this held-out round (implies --holdout)")
    ap.add_argument("--validation", action="store_true", help="measure the validation rounds instead")
    args = ap.parse_args()
    samples, holdout, judge, rounds = load_samples()
    if args.validation:
        samples = load_validation()
    elif args.round:
        start, end = rounds[args.round]
        samples = holdout[start:end]
    elif args.holdout:
        samples = holdout
    sys.path.insert(0, str(Path(args.code).resolve()))

    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for s in samples:
        reason, hard = judge(s)
        row = per[s.family]
        row[0] += 1
        row[1] += reason == s.want
        row[2] += hard == s.hard
        if args.misses and (reason, hard) != (s.want, s.hard):
            print(f"  miss {s.family}: want {s.want}/{s.hard} got {reason}/{hard}: {s.diagnostic[:70]}")
    total = [sum(v[i] for v in per.values()) for i in range(3)]
    print(f"{'family':28} {'n':>3} {'reason':>7} {'hard/soft':>9}")
    for fam, (n, ok, hs) in list(per.items()) + [("all", total)]:
        print(f"{fam:28} {n:>3} {100 * ok / n:6.1f}% {100 * hs / n:8.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
