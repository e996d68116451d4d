"""One plain-text message from bulkmail itself (an invitation to the web pages), through the configured
relay, outside the campaign ledger."""

import email.policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from app.models import utcnow
from app.sending.compose import Envelope, message_id_domain
from app.sending.message import dot_stuff
from app.sending.relay import ConnectionLost, NotSendable, RelayConnection, RelayError
from app.settings import Settings


class NoticeNotSent(Exception):
    """The relay did not take the message; the text says why (never a password)."""


def send_notice(settings: Settings, to: str, subject: str, text: str) -> None:
    """Send it from the bounce address (so a bounce of it comes back to the swept mailbox)."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"bulkmail <{settings.bounce_address}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id = make_msgid(domain=message_id_domain(settings))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    conn = RelayConnection(settings)
    try:
        data = dot_stuff(msg.as_bytes())
        reply = conn.send(Envelope(settings.bounce_address, to, data, None, None, message_id, not to.isascii()))
    except (RelayError, NotSendable, ConnectionLost) as exc:
        raise NoticeNotSent(f"the relay did not take the message: {exc}") from exc
    finally:
        conn.close()
    if reply.code // 100 != 2:
        raise NoticeNotSent(f"the relay refused the message: {reply.code} {reply.text}")
