"""The benchmark's campaign: about 5 KB of personalised HTML plus a text part."""

PARAGRAPH = (
    "Our spring collection is here, with new colours, lighter fabrics and the same careful stitching you "
    "know from us. Every piece is made in small batches by people we have worked with for years. "
)
HTML = (
    '<!doctype html><html><body style="font-family: sans-serif">\n'
    "<h1>Hello {{ first_name }}!</h1>\n"
    "<p>Good news for everyone in {{ city }}: free delivery this week.</p>\n"
    + "".join(f"<p>{PARAGRAPH * 2}</p>\n" for _ in range(12))
    + "<p>Your member number is {{ member }}.</p>\n"
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>\n</body></html>\n'
)
TEXT = (
    "Hello {{ first_name }}!\n\nGood news for everyone in {{ city }}: free delivery this week.\n\n"
    + PARAGRAPH * 4
    + "\n\nYour member number is {{ member }}.\nUnsubscribe: {{ unsubscribe_url }}\n"
)
SUBJECT = "{{ first_name }}, spring is here"


def naive_html(first_name: str, city: str, member: str, url: str) -> str:
    return (HTML.replace("{{ first_name }}", first_name).replace("{{ city }}", city)
            .replace("{{ member }}", member).replace("{{ unsubscribe_url }}", url))  # fmt: skip


def naive_text(first_name: str, city: str, member: str, url: str) -> str:
    return (TEXT.replace("{{ first_name }}", first_name).replace("{{ city }}", city)
            .replace("{{ member }}", member).replace("{{ unsubscribe_url }}", url))  # fmt: skip
