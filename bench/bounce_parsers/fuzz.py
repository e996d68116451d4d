"""Mutation run over the corpus and the hand-written samples (tests/bounce_parsers/samples):
N mutated inputs through classify_mail (the inner classifier, which is allowed to raise)
with zero exceptions expected. Inputs are sometimes two seeds in one mbox file, a seed
wrapped as message/rfc822, or a seed turned into HTML, before the mutations.

usage: python bench/bounce_parsers/fuzz.py [--count 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import glob
import random
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from mutate import compose  # noqa: E402

from bounce_parsers.classify import classify_mail  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpus", default=str(REPO / ".." / "shared" / "corpus" / "bounces"))
    a = ap.parse_args()
    files = sorted(glob.glob(f"{a.corpus}/*/*.eml")) + sorted(
        glob.glob(str(REPO / "tests/bounce_parsers/samples/*/*.eml"))
    )
    if not files:
        print("no corpus", file=sys.stderr)
        return 1
    seeds = [Path(f).read_bytes() for f in files]
    rng = random.Random(a.seed)
    failures = 0
    t0 = time.perf_counter()
    for i in range(a.count):
        raw = compose(rng, seeds)
        try:
            classify_mail(raw)
        except Exception:  # noqa: BLE001 - we are counting them
            failures += 1
            if failures <= 5:
                print(f"--- input {i} raised:", file=sys.stderr)
                traceback.print_exc()
                Path(f"/tmp/bounce_fuzz_fail_{i}.eml").write_bytes(raw)
    dt = time.perf_counter() - t0
    print(f"inputs: {a.count}  exceptions: {failures}  seconds: {dt:.1f}  ({a.count / dt:.0f}/s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
