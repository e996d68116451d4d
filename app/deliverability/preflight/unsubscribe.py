"""One-click unsubscribe (RFC 8058): the List-Unsubscribe and List-Unsubscribe-Post pair, covered by
the DKIM signature; and an unsubscribe link a reader sees in the HTML and in the text body."""

import re
from email import message_from_bytes, policy
from email.message import EmailMessage

from app.deliverability.preflight.findings import Finding, ok, problem
from app.deliverability.preflight.setup import SendingSetup

ONE_CLICK = "List-Unsubscribe=One-Click"


def parse(message: bytes) -> EmailMessage:
    parsed = message_from_bytes(message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)  # policy.default makes EmailMessage
    return parsed


def https_links(header: str) -> list[str]:
    return [u for u in re.findall(r"<([^>]+)>", header) if u.lower().startswith(("https://", "http://"))]


def check_headers(setup: SendingSetup) -> list[Finding]:
    msg = parse(setup.message)
    header, post = str(msg.get("List-Unsubscribe", "")), str(msg.get("List-Unsubscribe-Post", ""))
    if not https_links(header):
        return [
            problem(
                "list_unsubscribe",
                "the message has no List-Unsubscribe header with an https link: Gmail and Yahoo require one-click"
                " unsubscribe of bulk senders",
                "add List-Unsubscribe: <https://…> naming the unsubscribe link (bulkmail adds it unless a custom"
                " header replaces it)",
            )
        ]
    if post.strip() != ONE_CLICK:
        return [
            problem(
                "list_unsubscribe",
                "the message has List-Unsubscribe but not List-Unsubscribe-Post: List-Unsubscribe=One-Click, so"
                " receivers do not offer one-click unsubscribe (RFC 8058)",
                f"add the header List-Unsubscribe-Post: {ONE_CLICK} beside List-Unsubscribe",
            )
        ]
    signature = str(msg.get("DKIM-Signature", ""))
    signed = {h.strip().lower() for h in re.sub(r"\s", "", signature).partition("h=")[2].split(";")[0].split(":")}
    if signature and not {"list-unsubscribe", "list-unsubscribe-post"} <= signed:
        return [
            problem(
                "list_unsubscribe",
                "the DKIM signature does not cover List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 asks it)",
                "sign both headers (h= of the DKIM-Signature)",
            )
        ]
    return [ok("list_unsubscribe", "List-Unsubscribe and List-Unsubscribe-Post: One-Click are present")]


def check_visible_link(setup: SendingSetup) -> list[Finding]:
    msg = parse(setup.message)
    links = https_links(str(msg.get("List-Unsubscribe", ""))) + https_links(str(msg.get("List-Help", "")))
    found = []
    for subtype, what in (("html", "HTML"), ("plain", "text")):
        part = msg.get_body(preferencelist=(subtype,))
        if part is None or part.get_content_subtype() != subtype:
            continue
        body = part.get_content()
        if any(link in body for link in links):
            found.append(ok("unsubscribe_link", f"the {what} body shows an unsubscribe link"))
        else:
            found.append(
                problem(
                    "unsubscribe_link",
                    f"the {what} body has no visible unsubscribe link",
                    f"put {{{{ unsubscribe_url }}}} (or {{{{ preferences_url }}}}) in the {what} template"
                    + (', e.g. <a href="{{ unsubscribe_url }}">Unsubscribe</a>' if subtype == "html" else ""),
                )
            )
    return found
