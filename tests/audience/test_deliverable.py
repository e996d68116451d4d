"""Against the real Postfix + Dovecot stack: the addresses a compiled audience freezes into the ledger
are the ones the relay delivers to, and each mailbox gets one message however often and however
differently the address was written in the sources."""

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from app.audience.compile import freeze_into_ledger
from app.audience.importer import import_file
from app.models import Campaign, Delivery, utcnow
from app.settings import Settings
from tests.audience.support import make_list, suppress
from tests.support.mailstack import MailStack

pytestmark = pytest.mark.mailstack
NOREPLY = "noreply@example.test"


def test_frozen_addresses_are_delivered_once_each(
    mail: MailStack, engine: Engine, settings: Settings, session: Session, tmp_path: Path
) -> None:
    pasted = tmp_path / "typed.txt"
    pasted.write_text(
        "Alice Archer <ALICE@EXAMPLE.TEST>, bob@Example.Test; carol@example.test\n"
        'alice@example.test  "Dunn, Dave" <dave@example.test>\n'
    )
    people = tmp_path / "people.csv"
    people.write_text("E-mail;Name\nBob@example.test;Bob\nCAROL@example.test;Carol\n")
    news, vip = make_list(session, "News"), make_list(session, "VIP")
    import_file(engine, settings, news.id, str(pasted))  # type: ignore[arg-type]
    import_file(engine, settings, vip.id, str(people))  # type: ignore[arg-type]
    suppress(session, "dave@example.test", "unsubscribed")
    campaign = Campaign(name="c", from_address=NOREPLY, subject="hello")
    session.add(campaign)
    session.commit()
    counts = freeze_into_ledger(session, campaign.id, [news.id, vip.id], settings, utcnow(), utcnow())  # type: ignore[arg-type]
    session.commit()
    assert (counts["candidates"], counts["duplicates"], counts["included"]) == (6, 2, 3)

    context = ssl.create_default_context(cafile=mail.cafile)
    with smtplib.SMTP(mail.host, mail.submission_port, timeout=10) as smtp:
        smtp.starttls(context=context)
        smtp.login(NOREPLY, mail.users[NOREPLY])
        for delivery in session.execute(select(Delivery)).scalars():
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = NOREPLY, delivery.email, f"for {delivery.email_key}"
            msg.set_content("hello\n")
            smtp.send_message(msg)
    for user in ("alice", "bob", "carol"):
        mail.wait_for_messages(f"{user}@example.test", 1)
    mail.wait_queue_empty(timeout=10)
    for user in ("alice", "bob", "carol"):
        assert len(mail.messages(f"{user}@example.test")) == 1
    assert mail.messages("dave@example.test") == []
    assert mail.messages(NOREPLY) == []  # nothing bounced
