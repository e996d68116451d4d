"""Held-out whole messages (tests/bounce_parsers/holdout_messages/): the development corpus's scorer
over the command's output, then accuracy per family and every miss.

usage: python bench/bounce_parsers/holdout_messages.py [--set DIR] [--code DIR] [--scorer PATH] [--sisimai]

The messages were written after the parsers, from the MTAs' and providers' formats, and are measured
here rather than asserted in a test, so that their misses stay visible without failing the suite.
--set DIR measures another held-out round (e.g. tests/bounce_parsers/holdout_round18) instead;
--code DIR runs another checkout's bounce_parsers (e.g. the main branch) on the same files;
--sisimai also scores sisimai (Perl) on them, its hard flag taken from its reason the way the
development corpus defines it (userunknown, hostunknown, hasmoved, notaccept with a 5xx status).

The table's kinds map onto the scorer's labels: 'delay' is scored as a bounce whose reason is
'expired' (the project's convention; the command prints a delay notice as kind 'bounce'),
'autoreply'/'complaint'/'delivery' as the scorer's 'vacation'/'feedback'/'delivered', and a
recipient whose text states no cause (reason null) as 'onhold', soft. The per-family table reads
classify() in-process, where a delay notice must give every recipient the action 'delayed'."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # for bench.bounce_parsers.tables; the measured bounce_parsers is put before it

from bench.bounce_parsers.tables import print_family_table  # noqa: E402

HOLDOUT = REPO / "tests" / "bounce_parsers" / "holdout_messages"
SCORER = Path("/work/shared/tools/score_bounces.py")
NOT_FAILURE = {"autoreply": "vacation", "complaint": "feedback", "delivery": "delivered"}
SISIMAI = r"""
use strict; use warnings; use Sisimai; use JSON::PP;
my %kind = (feedback => 'complaint', vacation => 'autoreply', delivered => 'delivery');
for my $f (@ARGV) {
    my ($kind, @r) = ('none');
    for my $e (@{ Sisimai->make($f, delivered => 1, vacation => 1) || [] }) {
        $kind = $kind{ $e->reason } // 'bounce';
        push @r, {address => $e->recipient->address, status => $e->deliverystatus // '', reason => $e->reason};
    }
    print JSON::PP->new->canonical->encode({file => $f, kind => $kind, recipients => \@r}), "\n";
}
"""
HARD = {"userunknown", "hostunknown", "hasmoved"}


def load_table() -> dict[str, dict]:
    table = json.loads((HOLDOUT / "expected.json").read_text(encoding="utf-8"))
    return {k: v for k, v in table.items() if not k.startswith("_")}


def scorer_truth(table: dict[str, dict]) -> dict:
    """The table in the scorer's shape, keyed by the paths the command is given."""
    files = {}
    for name, exp in table.items():
        kind = exp["kind"]
        recipients = []
        for addr, reason, hard in exp["recipients"]:
            if kind in NOT_FAILURE:
                reason, hard = NOT_FAILURE[kind], False
            elif kind == "delay":
                reason, hard = "expired", False
            recipients.append({"recipient": addr, "reason": reason or "onhold", "hard": bool(hard)})
        files[str(HOLDOUT / name)] = {"bounce": kind != "none", "recipients": recipients}
    return {"files": files}


def run_command(code: Path, names: list[str]) -> list[dict]:
    paths = [str(HOLDOUT / n) for n in names]
    out = subprocess.run(
        [sys.executable, "-m", "bounce_parsers", *paths], cwd=code, capture_output=True, text=True, check=True
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def run_sisimai(names: list[str]) -> list[dict]:
    paths = [str(HOLDOUT / n) for n in names]
    out = subprocess.run(["perl", "-e", SISIMAI, *paths], capture_output=True, text=True, check=True).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    for rec in lines:
        for r in rec["recipients"]:
            r["hard"] = r["reason"] in HARD or (r["reason"] == "notaccept" and r["status"].startswith("5"))
    return lines


def main() -> int:
    global HOLDOUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default=str(HOLDOUT), help="held-out round: a folder with expected.json")
    ap.add_argument("--code", default=str(REPO), help="checkout whose bounce_parsers to measure")
    ap.add_argument("--scorer", default=str(SCORER), help="the development corpus's score_bounces.py")
    ap.add_argument("--sisimai", action="store_true", help="score sisimai on the same files too")
    args = ap.parse_args()
    HOLDOUT = Path(args.set).resolve()
    code = Path(args.code).resolve()
    table = load_table()
    names = sorted(table)

    spec = importlib.util.spec_from_file_location("score_bounces", args.scorer)
    assert spec and spec.loader
    scorer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scorer)
    runs = [("the command's output", run_command(code, names))]
    if args.sisimai:
        runs.append(("sisimai", run_sisimai(names)))
    for label, lines in runs:
        preds = {scorer.key(rec["file"]): rec for rec in lines}
        result = scorer.score(scorer_truth(table), preds)
        print(f"scorer ({label}):")
        for k, v in result.items():
            if k != "counts":
                print(f"  {k}: {v}")

    sys.path.insert(0, str(code))
    from bounce_parsers import classify

    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    misses = []
    for name in names:
        exp = table[name]
        fam = name.split("/", 1)[0]
        c = classify((HOLDOUT / name).read_bytes())
        s = stats[fam]
        s["files"] += 1
        kind = exp["kind"]
        if kind == "delay":
            ok = c.kind == "bounce" and bool(c.recipients) and all(r.action == "delayed" for r in c.recipients)
        elif kind == "bounce":
            ok = c.kind == "bounce" and any(r.action != "delayed" for r in c.recipients)
        else:
            ok = c.kind == kind
        s["detected"] += ok
        if not ok:
            misses.append(f"{name}: kind want {kind}, got {c.kind} {[(r.address, r.action) for r in c.recipients]}")
        got = {r.address.lower(): r for r in c.recipients}
        want = {addr.lower() for addr, _, _ in exp["recipients"]}
        for extra in sorted(set(got) - want):
            s["extra"] += 1
            misses.append(f"{name}: extra address {extra}")
        for addr, reason, hard in exp["recipients"]:
            r = got.get(addr.lower())
            s["addr_total"] += 1
            s["addr_ok"] += r is not None
            if r is None:
                misses.append(f"{name}: missing {addr}")
                continue
            if reason is not None and kind in ("bounce", "delay"):
                s["reason_total"] += 1
                s["reason_ok"] += r.reason == reason
                s["hard_total"] += 1
                s["hard_ok"] += r.hard is hard
                if (r.reason, r.hard) != (reason, hard):
                    misses.append(f"{name}: {addr} want {reason}/{hard}, got {r.reason}/{r.hard}")

    print()
    print_family_table(stats, "kind")
    print("\nmisses:" if misses else "\nno misses")
    for m in misses:
        print(f"  {m}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
