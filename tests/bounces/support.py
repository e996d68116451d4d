"""Helpers for the sweep tests: a sent campaign in the ledger, its messages pushed through the test
Postfix relay with our VERP return path, and the other kinds of mail that come back to noreply."""

import smtplib
import ssl
from dataclasses import dataclass
from email.utils import formatdate, make_msgid

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from app.addresses import email_key
from app.apikeys import create_api_key
from app.models import Campaign, Contact, Delivery, utcnow
from app.secret_key import get_secret_key
from app.sending.message import Identity, MessageFactory, Recipient, encode_body
from app.settings import Settings
from app.tokens import make_token, verp_address
from tests.support.mailstack import MailStack

NOREPLY = "noreply@example.test"


@dataclass
class Sent:
    campaign: Campaign
    deliveries: dict[str, Delivery]  # by address

    def by(self, address: str) -> Delivery:
        return self.deliveries[address]


def seed_campaign(
    session: Session, settings: Settings, engine: Engine, addresses: list[str], verp: bool = True
) -> Sent:
    """A campaign whose deliveries are all `sent`, each with its VERP token and Message-ID."""
    secret = get_secret_key(settings, engine)
    campaign = Campaign(name="spring", from_address="news@example.test", subject="Spring news", state="completed")
    session.add(campaign)
    session.flush()
    out: dict[str, Delivery] = {}
    for address in addresses:
        contact = Contact(email=address, email_key=email_key(address))
        session.add(contact)
        session.flush()
        d = Delivery(
            campaign_id=campaign.id,
            contact_id=contact.id,
            email=address,
            email_key=email_key(address),
            state="sent",
            sent_at=utcnow(),
            message_id=make_msgid(domain="example.test"),
        )
        session.add(d)
        session.flush()
        if verp:
            d.verp_token = make_token(secret, "d", d.id)
        out[address] = d
    session.commit()
    return Sent(campaign, out)


def api_headers(engine: Engine) -> dict[str, str]:
    """Authorization for a new write-scope API key."""
    with Session(engine) as session:
        _row, plaintext = create_api_key(session, "sweep tests", "write")
        session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def return_path(settings: Settings, engine: Engine, delivery: Delivery) -> str:
    return verp_address(settings.bounce_address, delivery.verp_token) if delivery.verp_token else NOREPLY


def send_campaign(mail: MailStack, settings: Settings, engine: Engine, sent: Sent) -> None:
    """Submit each delivery's message to the relay (AUTH over STARTTLS), envelope sender = its VERP address."""
    secret = get_secret_key(settings, engine)
    factory = MessageFactory(
        Identity("News", "news@example.test", None, "example.test"), sent.campaign.id, has_html=False, has_text=True
    )
    ctx = ssl.create_default_context(cafile=mail.cafile)
    with smtplib.SMTP(mail.host, mail.submission_port, timeout=10) as smtp:
        smtp.starttls(context=ctx)
        smtp.login(NOREPLY, mail.users[NOREPLY])
        for address, d in sent.deliveries.items():
            unsub = verp_address(settings.bounce_address, make_token(secret, "u", d.id))
            rcpt = Recipient(
                d.id,
                address,
                "",
                d.message_id or "",
                f"http://testserver/u/{d.id}",
                f"mailto:{unsub}?subject=unsubscribe",
            )
            data = factory.build(rcpt, "Spring news", None, encode_body("Hello!\n"))
            smtp.sendmail(return_path(settings, engine, d), [address], data)


def mailbox_settings(settings: Settings, mail: MailStack, protocol: str = "imap", **extra: object) -> Settings:
    port = mail.imap_port if protocol == "imap" else mail.pop3_port
    values = {
        "mailbox_protocol": protocol,
        "mailbox_host": mail.host,
        "mailbox_port": port,
        "mailbox_security": "starttls",
        "mailbox_user": NOREPLY,
        "mailbox_password": SecretStr(mail.users[NOREPLY]),
        "mailbox_cafile": mail.cafile,
        "mailbox_batch": 50,
    }
    values.update(extra)
    return settings.model_copy(update=values)


def _headers(**fields: str) -> str:
    return "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in fields.items())


def original_headers(sent: Sent, d: Delivery) -> str:
    return _headers(
        From="News <news@example.test>",
        To=d.email,
        Subject="Spring news",
        Message_ID=d.message_id or "",
        X_Bulkmail_Campaign=str(sent.campaign.id),
        X_Bulkmail_Delivery=str(d.id),
    )


def dsn(
    to: str,
    recipient: str,
    status: str,
    action: str = "failed",
    diagnostic: str = "",
    returned: str = "",
    envelope_id: str = "",
) -> bytes:
    """An RFC 3464 report like the ones remote MTAs send back."""
    boundary = "dsn-boundary-1"
    envid = f"Original-Envelope-Id: {envelope_id}\r\n" if envelope_id else ""
    text = (
        _headers(
            From="MAILER-DAEMON@mx.remote.test",
            To=to,
            Subject="Undelivered Mail Returned to Sender",
            Date=formatdate(),
            Message_ID=make_msgid(domain="mx.remote.test"),
            MIME_Version="1.0",
            Content_Type=f'multipart/report; report-type=delivery-status; boundary="{boundary}"',
        )
        + f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        + f"\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        + f"Reporting-MTA: dns; mx.remote.test\r\n{envid}\r\n"
        + f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        + f"Remote-MTA: dns; mx.remote.test\r\nDiagnostic-Code: smtp; {diagnostic or status}\r\n"
        + f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}"
        + f"\r\n--{boundary}--\r\n"
    )
    return text.encode()


def arf_complaint(to: str, sent: Sent, d: Delivery) -> bytes:
    boundary = "arf-boundary-1"
    return (
        _headers(
            From="abuse@isp.test",
            To=to,
            Subject="Abuse report",
            Date=formatdate(),
            Message_ID=make_msgid(domain="isp.test"),
            MIME_Version="1.0",
            Content_Type=f'multipart/report; report-type=feedback-report; boundary="{boundary}"',
        )
        + f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
        + f"\r\n--{boundary}\r\nContent-Type: message/feedback-report\r\n\r\n"
        + "Feedback-Type: abuse\r\nUser-Agent: isp-fbl/1.0\r\nVersion: 1\r\n"
        + f"Original-Rcpt-To: {d.email}\r\n"
        + f"\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n{original_headers(sent, d)}\r\nHello!\r\n"
        + f"\r\n--{boundary}--\r\n"
    ).encode()


def autoreply(to: str, sender: str, in_reply_to: str) -> bytes:
    return (
        _headers(
            From=sender,
            To=to,
            Subject="Out of office: Spring news",
            Date=formatdate(),
            Message_ID=make_msgid(domain="example.test"),
            In_Reply_To=in_reply_to,
            Auto_Submitted="auto-replied",
            X_Autoreply="yes",
        )
        + "\r\nI am away until Monday and will read your message when I am back.\r\n"
    ).encode()


def plain_mail(sender: str, to: str, subject: str, body: str) -> bytes:
    return (
        _headers(From=sender, To=to, Subject=subject, Date=formatdate(), Message_ID=make_msgid(domain="example.test"))
        + f"\r\n{body}\r\n"
    ).encode()
