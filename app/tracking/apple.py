"""Apple Mail Privacy Protection: its proxy fetches every image of a message, the open pixel included, when
the message reaches the inbox, whether or not anyone reads it. It is known by its user agent, which is the
bare `Mozilla/5.0` with nothing after it, and by where it fetches from: the networks of data/, in the format
of iCloud Private Relay's published egress list, through which MPP's fetches leave (the file's header says
what it holds and where each part comes from)."""

import functools
import ipaddress
from bisect import bisect_right
from pathlib import Path

RANGES_FILE = Path(__file__).parent / "data" / "apple_proxy_ranges.csv"
PROXY_AGENT = "Mozilla/5.0"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(path: Path) -> dict[int, tuple[list[int], list[int]]]:
    """Per IP version: the sorted network starts and their ends, for a bisect per address."""
    found: dict[int, list[Network]] = {4: [], 6: []}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            net = ipaddress.ip_network(line.split(",", 1)[0].strip(), strict=False)
        except ValueError:
            continue  # a line of the file that is no network: skipped, the rest still counts
        found[net.version].append(net)
    out = {}
    for version, nets in found.items():
        merged: list[list[int]] = []
        for start, end in sorted((int(n.network_address), int(n.broadcast_address)) for n in nets):
            if merged and start <= merged[-1][1] + 1:  # overlapping or adjacent: one range
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        out[version] = ([s for s, _ in merged], [e for _, e in merged])
    return out


@functools.cache
def _table() -> dict[int, tuple[list[int], list[int]]]:
    return _networks(RANGES_FILE)


def is_proxy_address(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    starts, ends = _table()[ip.version]
    i = bisect_right(starts, int(ip)) - 1
    return i >= 0 and int(ip) <= ends[i]


def is_proxy_agent(user_agent: str | None) -> bool:
    return (user_agent or "").strip() == PROXY_AGENT
