"""Accuracy and speed of bounce_parsers on the shared corpus, with sisimai timed alongside.

usage: python bench/bounce_parsers/run.py [--corpus DIR] [--out OUT.jsonl] [--rounds N] [--no-sisimai]

1. Runs `python -m bounce_parsers` over every corpus file (one process) and scores the
   output with the shared scorer.
2. Times classify() over all files in one process: the first (cold) pass and the best of N,
   by the wall clock and by CPU time (on a shared machine the wall clock of a 0.1 s pass
   swings with other processes; CPU time does not).
3. Times sisimai (Perl, libsisimai-perl) over the same files in one process, the same ways.
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
my ($best, $bestcpu, $first, $firstcpu) = (1e9, 1e9, 0, 0); my $n = 0;
for my $r (1..$rounds) {
    my $t0 = time; my @c0 = times; $n = 0;
    for my $f (@files) { my $v = Sisimai->make($f); $n++; }
    my $dt = time - $t0; my @c1 = times; my $cpu = ($c1[0] - $c0[0]) + ($c1[1] - $c0[1]);
    ($first, $firstcpu) = ($dt, $cpu) if $r == 1;
    $best = $dt if $dt < $best; $bestcpu = $cpu if $cpu < $bestcpu;
}
printf "%d %.6f %.6f %.6f %.6f\n", $n, $best, $bestcpu, $first, $firstcpu;
"""


def files_of(corpus: Path) -> list[str]:
    return sorted(glob.glob(str(corpus / "bsd" / "*.eml")) + glob.glob(str(corpus / "not" / "*.eml")))


def ours(files: list[str], rounds: int) -> dict[str, float]:
    """msgs/s of the first (cold: no phrase-match cache) and the best pass, by the wall clock
    and by the process's CPU time (which a busy shared machine does not distort)."""
    data = [Path(f).read_bytes() for f in files]
    wall, cpu = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        for raw in data:
            classify(raw)
        wall.append(time.perf_counter() - t0)
        cpu.append(max(time.process_time() - c0, 1e-9))
    n = len(data)
    return {"cold": n / wall[0], "best": n / min(wall), "cold_cpu": n / cpu[0], "best_cpu": n / min(cpu)}


def sisimai(files: list[str], rounds: int) -> dict[str, float] | None:
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
    n, best, best_cpu, first, first_cpu = proc.stdout.split()
    k = int(n)
    return {
        "best": k / float(best),
        "best_cpu": k / max(float(best_cpu), 1e-9),
        "cold": k / float(first),
        "cold_cpu": k / max(float(first_cpu), 1e-9),
    }


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
    score = json.loads(
        subprocess.run(
            [sys.executable, str(scorer), str(corpus / "expected.json"), a.out, "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    mine = ours(files, a.rounds)
    theirs = None if a.no_sisimai else sisimai(files, a.rounds)
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"files: {len(files)}")
    for k in (
        "detect_recall_pct",
        "address_recall_pct",
        "reason_acc_pct",
        "hard_soft_acc_pct",
        "complaint_autoreply_acc_pct",
        "false_positives",
    ):
        print(f"{k}: {score[k]}")
    print(
        f"bounce_parsers: {mine['best']:.0f} msgs/s best of {a.rounds}, {mine['cold']:.0f} first (cold) pass; "
        f"by CPU time {mine['best_cpu']:.0f} best, {mine['cold_cpu']:.0f} cold"
    )
    if theirs:
        print(
            f"sisimai: {theirs['best']:.0f} msgs/s best of {a.rounds}, {theirs['cold']:.0f} first pass; "
            f"by CPU time {theirs['best_cpu']:.0f} best, {theirs['cold_cpu']:.0f} first"
        )
        print(
            f"ratio (wall): {mine['best'] / theirs['best']:.1f}x best, {mine['cold'] / theirs['best']:.1f}x "
            f"our cold vs their best"
        )
        print(
            f"ratio (CPU):  {mine['best_cpu'] / theirs['best_cpu']:.1f}x best, "
            f"{mine['cold_cpu'] / theirs['best_cpu']:.1f}x our cold vs their best"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
