"""Which hits are people's and which are machines'. The rules, in the order they are tried:

1. `apple`: an open fetched by Apple Mail Privacy Protection's proxy (its networks or its bare user agent).
   Clicks from Apple's networks are people's (iCloud Private Relay hides a reader's address the same way).
2. `agent`: a user agent of a crawler, a link checker or a security gateway (the crawlerdetect list, and
   gateways it does not name); a HEAD request. Mail providers' image proxies that fetch when a person opens
   the message (Gmail's GoogleImageProxy, Yahoo's) are people's.
3. `prefetch`: with per-contact tracking, a hit within `tracking_prefetch_seconds` of the relay taking the
   message: nobody reads a message that fast, a gateway scanning it on arrival does.
4. `burst`: with per-contact tracking, every link of a message (two or more) clicked within
   `tracking_burst_seconds`: a scanner following each link; the message's hits within that span are all
   the scanner's.

Anything else is a person's. Anonymous tracking knows no message, so rules 3 and 4 cannot apply to it."""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from crawlerdetect import CrawlerDetect

from app.tracking import apple

APPLE, AGENT, PREFETCH, BURST = "apple", "agent", "prefetch", "burst"
RULES = (APPLE, AGENT, PREFETCH, BURST)

# security gateways and link scanners crawlerdetect does not name (lower case, found anywhere in the agent)
GATEWAYS = (
    "mimecast",
    "proofpoint",
    "barracuda",
    "urldefense",
    "safelinks",
    "trendmicro",
    "symantec",
    "messagelabs",
    "fortiguard",
    "forcepoint",
    "sophos",
    "cisco ironport",
    "zscaler",
    "paloalto",
    "checkpoint",
    "avanan",
    "abnormal security",
    "hornetsecurity",
    "spamtitan",
)
PERSON_PROXIES = ("googleimageproxy", "yahoomailproxy")
_detector = CrawlerDetect()
# a scanner fetching the pixel as it starts on the links: its open, just before the burst, is its own
SCANNER_OPEN_LEAD = timedelta(seconds=1)


@functools.lru_cache(maxsize=4096)
def is_machine_agent(user_agent: str) -> bool:
    low = user_agent.lower()
    if any(p in low for p in PERSON_PROXIES):
        return False
    if not low.strip() or any(g in low for g in GATEWAYS):
        return True
    return bool(_detector.isCrawler(user_agent))


def signal(user_agent: str | None, address: str | None, method: str = "GET") -> str | None:
    """What a request shows by itself (the hit keeps only this, never the address or the agent)."""
    if apple.is_proxy_address(address) or apple.is_proxy_agent(user_agent):
        return APPLE
    if method == "HEAD" or is_machine_agent(user_agent or ""):
        return AGENT
    return None


@dataclass
class Seen:
    """A hit as the rules read it; `verdict` is None until they decide."""

    id: int
    link: int  # 0: an open
    at: datetime
    signal: str | None
    verdict: str | None = None  # a rule's name; "" for a person


def judge(hits: Sequence[Seen], sent_at: datetime | None, links: int, prefetch: timedelta, burst: timedelta) -> None:
    """Decide every hit of one message (HITS: the message's hits near these, oldest first; an anonymous
    campaign's hit alone, with no SENT_AT). LINKS: how many links the campaign tracks."""
    for h in hits:
        if h.signal == APPLE and h.link == 0:
            h.verdict = APPLE
        elif h.signal == AGENT:
            h.verdict = AGENT
        elif sent_at is not None and h.at - sent_at < prefetch:
            h.verdict = PREFETCH
    if links >= 2:
        clicks = [h for h in hits if h.link != 0]
        for i, first in enumerate(clicks):
            within = [c for c in clicks[i:] if c.at - first.at <= burst]
            if len({c.link for c in within}) >= links:
                start, end = first.at - SCANNER_OPEN_LEAD, within[-1].at
                for h in hits:
                    if start <= h.at <= end and h.verdict is None:
                        h.verdict = BURST
                break
    for h in hits:
        if h.verdict is None:
            h.verdict = ""
