"""Google Groups: a group refused the post (it does not exist or the sender may not post).
The notice is localised, so it is recognised by its sender and its links, not its wording."""

from __future__ import annotations

from ..entry import Entry
from ..report import Report, clean_address

NAME = "googlegroups"


def detect(rep: Report) -> bool:
    if not rep.mail.header("x-failed-recipients"):
        return False
    low = rep.text[:6000].lower()
    return "groups.google.com" in low or "google group" in low or "googlegroups.com" in low and "group" in low


def parse(rep: Report) -> list[Entry]:
    entries = []
    for value in rep.mail.headers.get("x-failed-recipients", []):
        for addr in value.split(","):
            addr = clean_address(addr)
            if addr:
                first = next((ln.strip() for ln in rep.error_text().split("\n") if ln.strip()), "")
                entries.append(
                    Entry(
                        recipient=addr,
                        action="failed",
                        reason="rejected",
                        diagnostic=" ".join(rep.error_text().split())[:1000] or first,
                    )
                )
    return entries
