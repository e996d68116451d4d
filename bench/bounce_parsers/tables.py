"""The per-family Markdown table both sample benchmarks print (samples.py, holdout_messages.py)."""

from collections import defaultdict


def print_family_table(stats: dict[str, dict[str, int]], detected: str) -> None:
    """One Markdown row per family and one for all: files, DETECTED (the share detected or of the right kind),
    addresses found, extra addresses, reason and hard/soft accuracy."""

    def pct(x: int, y: int) -> str:
        return f"{100 * x / y:.0f} %" if y else "–"

    print(f"| family | files | {detected} | addresses | extra | reason | hard/soft |")
    print("|---|---|---|---|---|---|---|")
    tot: dict[str, int] = defaultdict(int)
    rows = sorted(stats.items())
    for _fam, counts in rows:
        for k, v in counts.items():
            tot[k] += v
    for fam, s in [*rows, ("**all**", tot)]:
        print(
            f"| {fam} | {s['files']} | {pct(s['detected'], s['files'])} | {pct(s['addr_ok'], s['addr_total'])} | "
            f"{s['extra']} | {pct(s['reason_ok'], s['reason_total'])} | {pct(s['hard_ok'], s['hard_total'])} |"
        )
