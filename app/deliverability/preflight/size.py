"""Message size: Gmail clips a message past 102 KB (hiding its end, the unsubscribe link with it), and
large bulk mail scores worse."""

from app.deliverability.preflight.findings import Finding, ok, problem
from app.deliverability.preflight.setup import SendingSetup


def check(setup: SendingSetup, max_bytes: int) -> list[Finding]:
    size = len(setup.message)
    if size > max_bytes:
        return [
            problem(
                "size",
                f"the message is {size / 1024:.0f} KB, more than {max_bytes / 1024:.0f} KB: Gmail clips it and "
                "hides the rest, the unsubscribe link included",
                "shrink the HTML: link images instead of embedding them, drop repeated inline styles, split the"
                " content",
            )
        ]
    return [ok("size", f"the message is {size / 1024:.0f} KB (limit {max_bytes / 1024:.0f} KB)")]
