"""Accuracy and speed of bounce_parsers on the shared corpus, with sisimai timed alongside.

usage: python bench/bounce_parsers/run.py [--corpus DIR] [--out OUT.jsonl] [--rounds N] [--no-sisimai]

1. Runs `python -m bounce_parsers` over every corpus file (one process) and scores the
   output with the shared scorer.
2. Times classify() over all files in one process (best of N rounds, msgs/s).
3. Times sisimai (Perl, libsisimai-perl) over the same files in one process.
Prints one summary; nothing is written except OUT.jsonl.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"
sys.path.insert(0, str(REPO))

from bounce_parsers import classify  # noqa: E402

SISIMAI_SCRIPT = r"""
use strict; use warnings; use Sisimai; use Time::HiRes qw(time);
my @files = @ARGV; my $rounds = shift @files;
my $best = 1e9; my $n = 0;
for my $r (1..$rounds) {
    my $t0 = time; $n = 0;
    for my $f (@files) { my $v = Sisimai->make($f); $n++; }
    my $dt = time - $t0; $best = $dt if $dt < $best;
}
printf "%d %.6f\n", $n, $best;
"""


def files_of(corpus: Path) -> list[str]:
    return sorted(glob.glob(str(corpus / "bsd" / "*.eml")) + glob.glob(str(corpus / "not" / "*.eml")))


def ours(files: list[str], rounds: int) -> tuple[float, float]:
    """(first pass, best pass) msgs/s; the first pass is cold (no phrase-match cache)."""
    data = [Path(f).read_bytes() for f in files]
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for raw in data:
            classify(raw)
        times.append(time.perf_counter() - t0)
    return len(data) / times[0], len(data) / min(times)


def sisimai(files: list[str], rounds: int) -> float | None:
    if not shutil.which("perl"):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".pl", delete=False) as fh:
        fh.write(SISIMAI_SCRIPT)
        script = fh.name
    try:
        proc = subprocess.run(["perl", script, str(rounds), *files], capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(script)
    if proc.returncode != 0 or not proc.stdout.strip():
        print("sisimai failed:", proc.stderr.strip()[:300], file=sys.stderr)
        return None
    n, secs = proc.stdout.split()
    return int(n) / float(secs)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(SHARED / "corpus" / "bounces"))
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "bounce_parsers_out.jsonl"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-sisimai", action="store_true")
    a = ap.parse_args()
    corpus = Path(a.corpus)
    files = files_of(corpus)
    if not files:
        print(f"no corpus at {corpus}", file=sys.stderr)
        return 1
    with open(a.out, "w", encoding="utf-8") as out:
        subprocess.run([sys.executable, "-m", "bounce_parsers", *files], stdout=out, cwd=REPO, check=True)
    scorer = SHARED / "tools" / "score_bounces.py"
    score = json.loads(subprocess.run([sys.executable, str(scorer), str(corpus / "expected.json"), a.out, "--json"],
                                      capture_output=True, text=True, check=True).stdout)
    cold, ours_rate = ours(files, a.rounds)
    theirs = None if a.no_sisimai else sisimai(files, a.rounds)
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"files: {len(files)}")
    for k in ("detect_recall_pct", "address_recall_pct", "reason_acc_pct", "hard_soft_acc_pct",
              "complaint_autoreply_acc_pct", "false_positives"):
        print(f"{k}: {score[k]}")
    print(f"bounce_parsers: {ours_rate:.0f} msgs/s best of {a.rounds} ({cold:.0f} msgs/s first, cold pass)")
    if theirs:
        print(f"sisimai: {theirs:.0f} msgs/s best of {a.rounds}  (ratio {ours_rate / theirs:.1f}x best, "
              f"{cold / theirs:.1f}x cold)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
