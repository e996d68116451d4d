"""Whole-process cost over the corpus: `python -m bounce_parsers FILE...` against sisimai 4.25
(`perl -MSisimai -e 'Sisimai->make($_) for @ARGV'`), process start and imports included.

usage: python bench/bounce_parsers/process.py [--corpus DIR] [--other DIR] [--rounds N] [--source-only]

--other DIR also times the bounce_parsers package found in DIR (e.g. an export of the main
branch: `git archive main bounce_parsers | tar -x -C DIR`), with --other-python's interpreter
(another checkout's .venv/bin/python, to include that environment's start-up). Prints the best of N runs by CPU
time (user + system of the child, which other jobs on a shared machine disturb least) and by
the wall clock.

Both packages are timed as an installed Python runs them: byte-compiled first (what pip does
for a wheel, and what CPython writes on an editable install's first import). --source-only
deletes their .pyc files instead and runs with PYTHONDONTWRITEBYTECODE=1, so every process
compiles the package's source (the state of an environment that never writes byte code).
"""

from __future__ import annotations

import argparse
import compileall
import glob
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def prepare(root: Path, source_only: bool) -> None:
    """Byte-compile the package under root, or delete its byte code."""
    package = root / "bounce_parsers"
    if source_only:
        for pyc in package.glob("**/__pycache__/*.pyc"):
            pyc.unlink()
    else:
        compileall.compile_dir(str(package), quiet=1)


Run = tuple[list[str], str | None, dict[str, str] | None]  # command, directory, environment


def best(runs: dict[str, Run], rounds: int) -> dict[str, tuple[float, float]]:
    """Best CPU and wall time of each command; the commands take turns within every round,
    so a burst of load on the shared machine falls on all of them alike."""
    found = {name: (1e9, 1e9) for name in runs}
    for _ in range(rounds):
        for name, (cmd, cwd, env) in runs.items():
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            w0 = time.perf_counter()
            subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
            wall = time.perf_counter() - w0
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
            found[name] = (min(found[name][0], cpu), min(found[name][1], wall))
    return found


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(REPO / ".." / "shared" / "corpus" / "bounces"))
    ap.add_argument("--other", help="a directory holding another bounce_parsers package to time too")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument(
        "--other-python", default=sys.executable, help="the interpreter (and so the environment) for --other"
    )
    ap.add_argument("--source-only", action="store_true", help="no byte code: every process compiles the source")
    args = ap.parse_args()
    files = sorted(glob.glob(f"{args.corpus}/bsd/*.eml") + glob.glob(f"{args.corpus}/not/*.eml"))
    env = dict(os.environ)
    if args.source_only:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    for root in [REPO, *([Path(args.other)] if args.other else [])]:
        prepare(root, args.source_only)
    commands: dict[str, Run] = {"bounce_parsers": ([sys.executable, "-m", "bounce_parsers", *files], str(REPO), env)}
    if args.other:
        code = (
            "import runpy, sys; sys.argv[0] = 'bounce_parsers'; runpy.run_module('bounce_parsers', run_name='__main__')"
        )
        commands["other"] = ([args.other_python, "-c", code, *files], args.other, env)
    commands["sisimai 4.25"] = (["perl", "-MSisimai", "-e", "Sisimai->make($_) for @ARGV", *files], None, None)
    commands["python -c pass"] = ([sys.executable, "-c", "pass"], None, None)
    runs = best(commands, args.rounds)
    sis_cpu, sis_wall = runs["sisimai 4.25"]
    state = "source only (no byte code)" if args.source_only else "byte-compiled"
    print(f"{len(files)} files, best of {args.rounds}, {state}")
    for name, (cpu, wall) in runs.items():
        print(
            f"{name:16} CPU {cpu * 1000:6.0f} ms ({sis_cpu / cpu:4.2f}x)  wall {wall * 1000:6.0f} ms ({sis_wall / wall:4.2f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
