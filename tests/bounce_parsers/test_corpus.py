"""The shared corpus: kinds and addresses per file, and the accuracy floor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bounce_parsers import classify

NOT_FAILURES = {"feedback": "complaint", "vacation": "autoreply", "delivered": "delivery"}


def test_corpus_accuracy(corpus: Path) -> None:
    truth = json.loads((corpus / "expected.json").read_text(encoding="utf-8"))["files"]
    detected = fail_files = addr_ok = addr_total = reason_ok = reason_total = hard_ok = false_pos = 0
    for name, t in truth.items():
        c = classify((corpus / name).read_bytes())
        if not t.get("bounce"):
            false_pos += c.kind != "none" or bool(c.recipients)
            continue
        got = {r.address.lower(): r for r in c.recipients}
        fails = [e for e in t["recipients"] if e["reason"] not in NOT_FAILURES]
        if fails:
            fail_files += 1
            detected += c.kind == "bounce" and bool(c.recipients)
        # the corpus writes sisimai's placeholder where a complaint hides its recipient; we name nobody
        assert not any(a.endswith(".invalid") for a in got), name
        for e in t["recipients"]:
            addr = (e.get("recipient") or "").lower()
            if addr.endswith("@libsisimai.org.invalid"):
                assert c.kind == "complaint" and not c.recipients, name
                continue
            if addr:
                addr_total += 1
                addr_ok += addr in got
            if e["reason"] in NOT_FAILURES:
                assert c.kind == NOT_FAILURES[e["reason"]], name
            elif addr in got:
                reason_total += 1
                reason_ok += got[addr].reason == e["reason"]
                hard_ok += got[addr].hard is e["hard"]
    assert false_pos == 0
    # floors below the measured numbers (bench/RESULTS.md) so regressions show up
    # (reason and hard/soft here count the recipients found; the shared scorer counts the
    # three missed addresses as wrong too, hence its lower figures). Three of this corpus's reports
    # label a code-less "User unknown" as a filter's refusal, where mail never seen reads it as an
    # unknown user: the floors leave room for those three.
    assert detected / fail_files >= 0.99
    assert addr_ok / addr_total >= 0.99
    assert reason_ok / reason_total >= 0.965
    assert hard_ok / reason_total >= 0.985


def test_cli_output_shape(corpus: Path, tmp_path: Path) -> None:
    files = sorted(str(p) for p in (corpus / "bsd").glob("*.eml"))[:5] + [str(tmp_path / "missing.eml")]
    out = subprocess.run(
        [sys.executable, "-m", "bounce_parsers", *files],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.splitlines()
    assert len(out) == len(files)
    for line, path in zip(out, files, strict=True):
        rec = json.loads(line)
        assert rec["file"] == path
        assert rec["kind"] in ("bounce", "complaint", "autoreply", "delivery", "none")
        for r in rec["recipients"]:
            assert set(r) == {"address", "status", "reply", "reason", "hard", "diagnostic"}
