"""Whole-process cost over the corpus: `python -m bounce_parsers FILE...` against sisimai 4.25
(`perl -MSisimai -e 'Sisimai->make($_) for @ARGV'`), process start and imports included.

usage: python bench/bounce_parsers/process.py [--corpus DIR] [--other DIR] [--rounds N]

--other DIR also times the bounce_parsers package found in DIR (e.g. an export of the main
branch: `git archive main bounce_parsers | tar -x -C DIR`). Prints the best of N runs by CPU
time (user + system of the child, which other jobs on a shared machine disturb least) and by
the wall clock.
"""

from __future__ import annotations

import argparse
import glob
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def best(cmd: list[str], rounds: int, cwd: str | None = None) -> tuple[float, float]:
    cpu = wall = 1e9
    for _ in range(rounds):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
        wall = min(wall, time.perf_counter() - w0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = min(cpu, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return cpu, wall


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(REPO / ".." / "shared" / "corpus" / "bounces"))
    ap.add_argument("--other", help="a directory holding another bounce_parsers package to time too")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    files = sorted(glob.glob(f"{args.corpus}/bsd/*.eml") + glob.glob(f"{args.corpus}/not/*.eml"))
    runs = {"bounce_parsers": best([sys.executable, "-m", "bounce_parsers", *files], args.rounds, str(REPO))}
    if args.other:
        code = (
            "import runpy, sys; sys.argv[0] = 'bounce_parsers'; runpy.run_module('bounce_parsers', run_name='__main__')"
        )
        runs["other"] = best([sys.executable, "-c", code, *files], args.rounds, args.other)
    runs["sisimai 4.25"] = best(["perl", "-MSisimai", "-e", "Sisimai->make($_) for @ARGV", *files], args.rounds)
    runs["python -c pass"] = best([sys.executable, "-c", "pass"], args.rounds)
    sis_cpu, sis_wall = runs["sisimai 4.25"]
    print(f"{len(files)} files, best of {args.rounds}")
    for name, (cpu, wall) in runs.items():
        print(
            f"{name:16} CPU {cpu * 1000:6.0f} ms ({sis_cpu / cpu:4.2f}x)  wall {wall * 1000:6.0f} ms ({sis_wall / wall:4.2f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
