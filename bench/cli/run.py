"""Start-up of `bulkmail` commands: this checkout against another one (an earlier commit's tree), interleaved.

    python bench/cli/run.py /path/to/earlier/tree [--reps 7]

Each repetition runs every command once per tree, alternating which tree goes first, on one SQLite database
brought to head beforehand (so no command migrates). Reported: the median wall and CPU (the child's user +
system time, which the shared machine's load disturbs less than wall time) and `python -X importtime`'s
cumulative time for `import app.cli`."""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
COMMANDS = [["--help"], ["lists"], ["why", "someone@example.com"]]
RUN = "from app.cli import main; main()"


def _run(tree: Path, env: dict[str, str], *args: str) -> tuple[float, float, str]:
    before = os.times()
    wall = time.perf_counter()
    # `python -c` puts the working directory first on sys.path: the tree's own `app` is the one imported
    out = subprocess.run([sys.executable, "-c", RUN, *args], cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - wall
    after = os.times()
    assert out.returncode == 0, out.stderr
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, out.stdout


def _import_time(tree: Path, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app.cli"], cwd=tree, env=env,
                         capture_output=True, text=True)  # fmt: skip
    last = [line for line in out.stderr.splitlines() if re.search(r"\|\s*app\.cli$", line)][-1]
    return int(last.split("|")[1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("before", type=Path)
    parser.add_argument("--reps", type=int, default=7)
    options = parser.parse_args()
    trees = {"before": options.before.resolve(), "after": HERE}
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BULKMAIL_")}
        env |= {"BULKMAIL_DATA_DIR": data, "HOME": data}
        subprocess.run([sys.executable, "-c", RUN, "db", "upgrade"], cwd=HERE, env=env, check=True, capture_output=True)
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
        imports: dict[str, list[float]] = {name: [] for name in trees}
        outputs: dict[tuple[str, str], set[str]] = {}
        for rep in range(options.reps):
            order = list(trees) if rep % 2 == 0 else list(reversed(trees))
            for name in order:
                imports[name].append(_import_time(trees[name], env))
            for command in COMMANDS:
                for name in order:
                    wall, cpu, stdout = _run(trees[name], env, *command)
                    samples.setdefault((name, " ".join(command)), []).append((wall, cpu))
                    outputs.setdefault((name, " ".join(command)), set()).add(stdout)
    print(f"{options.reps} repetitions, medians; load average {os.getloadavg()[0]:.1f} at the end")
    print("| | before | after | after ÷ before |\n|---|---:|---:|---:|")
    b, a = statistics.median(imports["before"]), statistics.median(imports["after"])
    print(f"| `import app.cli` (importtime, cumulative) | {b:.2f} s | {a:.2f} s | {a / b:.2f} |")
    for command in COMMANDS:
        key = " ".join(command)
        same = outputs[("before", key)] == outputs[("after", key)]
        for i, what in ((1, "CPU"), (0, "wall")):
            b = statistics.median(s[i] for s in samples[("before", key)])
            a = statistics.median(s[i] for s in samples[("after", key)])
            note = "" if same or what == "wall" else " (output differs!)"
            print(f"| `bulkmail {key}` {what} | {b:.2f} s | {a:.2f} s | {a / b:.2f}{note} |")


if __name__ == "__main__":
    main()
