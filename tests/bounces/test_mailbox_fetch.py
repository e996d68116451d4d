"""Messages come out of the mailbox byte for byte as they went in, over IMAP and over POP3 (whose
multi-line answers are dot-stuffed and, with PIPELINING, read in bulk)."""

import pytest

from app.bounces.mailbox import Pop3Mailbox, open_mailbox
from app.settings import Settings
from tests.bounces.support import mailbox_settings
from tests.support.mailstack import MailStack

pytestmark = pytest.mark.mailstack

NOREPLY = "noreply@example.test"
BODIES = [
    b"plain line\r\n",
    b".\r\n..\r\n...\r\n.leading dot\r\nmiddle . dot\r\n.\r\n",  # lines a POP3 server must dot-stuff
    b"..starts with two dots\r\n\r\n.\r\nend\r\n",
    b"",  # headers only
    b"x" * 70 + b"\r\n" + b".y\r\n" * 30_000,  # larger than one read, a terminator-like line in every piece
]


def _raw(n: int, body: bytes) -> bytes:
    head = (
        f"From: someone@remote.test\r\nTo: {NOREPLY}\r\nSubject: message {n}\r\nMessage-ID: <m{n}@remote.test>\r\n\r\n"
    )
    return head.encode() + body


@pytest.mark.parametrize(
    ("protocol", "pipelining"),
    [("imap", None), ("pop3", True), ("pop3", False)],
    ids=["imap", "pop3-pipelined", "pop3-one-by-one"],
)
def test_fetch_returns_every_message_unchanged(
    mail: MailStack, settings: Settings, protocol: str, pipelining: bool | None
) -> None:
    sent = [_raw(n, body) for n, body in enumerate(BODIES)]
    for raw in sent:
        mail.deliver(NOREPLY, raw)
    box = open_mailbox(mailbox_settings(settings, mail, protocol))
    try:
        if isinstance(box, Pop3Mailbox):
            assert box._pipelining, "Dovecot announces PIPELINING"
            box._pipelining = bool(pipelining)
        fetched = [raw for _, raw in box.fetch(box.list_ids())]
    finally:
        box.close(commit=False)
    assert sorted(fetched) == sorted(sent)
