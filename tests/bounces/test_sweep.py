"""The sweep against the real Postfix relay and Dovecot: a campaign's real DSNs, a complaint, an
auto-reply, a mailed unsubscribe and a human reply, swept over IMAP and over POP3."""

import ssl
from email import message_from_bytes

import pytest
from imap_tools import MailBoxStartTls
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from app.bounces.sweep import run_sweep
from app.models import Bounce, ConsentEvent, Delivery, MailboxSweep, ProcessedMessage, Suppression
from app.secret_key import get_secret_key
from app.settings import Settings
from app.tokens import make_token, verp_address
from tests.bounces.support import (
    NOREPLY,
    arf_complaint,
    autoreply,
    dsn,
    mailbox_settings,
    plain_mail,
    return_path,
    seed_campaign,
    send_campaign,
)
from tests.support.mailstack import MailStack

pytestmark = pytest.mark.mailstack

DELIVERED = "alice@example.test"  # exists: the message arrives, nothing comes back
UNKNOWN = "ghost@example.test"  # unknown local user: 5.1.1 DSN
OUTSIDE = "someone@elsewhere.invalid"  # outside domain: the relay bounces it, 5.4.4 DSN
COMPLAINER = "bob@example.test"
AWAY = "carol@example.test"
LEAVER = "dave@example.test"


def _flags(mail: MailStack, address: str) -> list[str]:
    base = mail.maildir(address)
    return [p.name.partition(":2,")[2] for sub in ("new", "cur") for p in (base / sub).iterdir()]


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_sweep_attributes_records_suppresses_and_deletes_only_what_it_processed(
    mail: MailStack, settings: Settings, engine: Engine, session: Session, protocol: str
) -> None:
    sent = seed_campaign(session, settings, engine, [DELIVERED, UNKNOWN, OUTSIDE, COMPLAINER, AWAY, LEAVER])
    send_campaign(mail, settings, engine, sent)
    dsns = mail.wait_for_messages(NOREPLY, 2)
    assert len(dsns) == 2, "one DSN each for the unknown user and the outside domain"
    secret = get_secret_key(settings, engine)
    mail.deliver(NOREPLY, arf_complaint(return_path(settings, engine, sent.by(COMPLAINER)), sent, sent.by(COMPLAINER)))
    away = sent.by(AWAY)
    mail.deliver(NOREPLY, autoreply(return_path(settings, engine, away), AWAY, away.message_id or ""))
    unsubscribe_to = verp_address(NOREPLY, make_token(secret, "u", sent.by(LEAVER).id or 0))
    mail.deliver(NOREPLY, plain_mail(LEAVER, unsubscribe_to, "unsubscribe", "please take me off"))
    human = plain_mail(AWAY, NOREPLY, "Re: Spring news", "Lovely newsletter, where can I buy the blue one?")
    mail.deliver(NOREPLY, human)

    sweep = run_sweep(mailbox_settings(settings, mail, protocol), engine, trigger="cli")

    assert sweep is not None and sweep.state == "done", sweep and sweep.error
    assert (sweep.seen, sweep.recorded, sweep.deleted, sweep.kept, sweep.errors) == (6, 5, 5, 1, 0)
    assert sweep.per_kind == {"bounce": 2, "complaint": 1, "autoreply": 1, "unsubscribe": 1}
    assert sweep.per_layer == {"verp": 5}
    # the human reply is still there, unread; everything processed is gone
    assert mail.messages(NOREPLY) == [human]
    assert all("S" not in flags for flags in _flags(mail, NOREPLY))

    session.expire_all()
    bounces = {b.email: b for b in session.exec(select(Bounce))}
    assert set(bounces) == {UNKNOWN, OUTSIDE, COMPLAINER, AWAY, LEAVER}
    for address in (UNKNOWN, OUTSIDE):
        b = bounces[address]
        assert (b.kind, b.hard, b.attribution, b.delivery_id, b.campaign_id) == (
            "bounce",
            True,
            "verp",
            sent.by(address).id,
            sent.campaign.id,
        )
        assert b.status.startswith("5.")
        assert session.get(Delivery, b.delivery_id).state == "bounced"
        # the returned original's headers are kept for the bounces page
        assert f"X-Bulkmail-Delivery: {b.delivery_id}" in b.original_headers
    assert bounces[UNKNOWN].status == "5.1.1"
    assert bounces[COMPLAINER].kind == "complaint"
    assert bounces[AWAY].kind == "autoreply"
    assert bounces[LEAVER].kind == "unsubscribe"
    suppressions = {s.email: s for s in session.exec(select(Suppression))}
    assert {a: s.reason for a, s in suppressions.items()} == {
        UNKNOWN: "bounced",
        OUTSIDE: "bounced",
        COMPLAINER: "complained",
        LEAVER: "unsubscribed",
    }
    for address, s in suppressions.items():
        assert bounces[address].suppression_id == s.id, "every suppression links to the row that caused it"
        assert s.source == f"sweep {sweep.id}"
    assert session.get(Delivery, away.id).state == "sent", "an auto-reply is not a bounce"
    # the mailed unsubscribe command is in the leaver's consent ledger
    leaver = sent.by(LEAVER).contact_id
    events = session.exec(select(ConsentEvent).where(ConsentEvent.contact_id == leaver)).all()
    assert [(e.action, e.list_id, e.actor_kind, e.source) for e in events] == [
        ("unsubscribe", None, "mailed_command", f"sweep {sweep.id}")
    ]
    assert session.get(Delivery, sent.by(DELIVERED).id).state == "sent"
    session.commit()  # SQLite: every transaction holds the write lock (BEGIN IMMEDIATE)

    again = run_sweep(mailbox_settings(settings, mail, protocol), engine, trigger="cli")
    assert again is not None and again.state == "done"
    assert (again.seen, again.recorded, again.deleted, again.kept) == (1, 0, 0, 1)
    assert session.exec(select(func.count()).select_from(Bounce)).one() == 5
    assert session.exec(select(func.count()).select_from(ProcessedMessage)).one() == 5
    assert session.exec(select(func.count()).select_from(MailboxSweep)).one() == 2
    assert mail.messages(NOREPLY) == [human]


def test_unrecognised_mail_can_be_moved_to_a_keep_folder(
    mail: MailStack, settings: Settings, engine: Engine, session: Session
) -> None:
    human = plain_mail("reader@remote.test", NOREPLY, "Hello", "Do you ship to Norway?")
    mail.deliver(NOREPLY, human)
    sweep = run_sweep(mailbox_settings(settings, mail, mailbox_keep_folder="Kept"), engine, trigger="cli")
    assert sweep is not None and (sweep.state, sweep.kept, sweep.deleted) == ("done", 1, 0)
    assert mail.messages(NOREPLY) == []
    with MailBoxStartTls(mail.host, mail.imap_port, ssl_context=ssl.create_default_context(cafile=mail.cafile)).login(
        NOREPLY, mail.users[NOREPLY], initial_folder="Kept"
    ) as box:
        kept = list(box.fetch(mark_seen=False))
    assert [m.subject for m in kept] == ["Hello"] and "\\Seen" not in kept[0].flags


def test_unsubscribe_commands_mailed_to_the_bare_address(
    mail: MailStack, settings: Settings, engine: Engine, session: Session
) -> None:
    """A subscriber who answers the newsletter with "unsubscribe" is unsubscribed, tied to the message
    they answered; a stranger's command is recorded and suppresses nobody; a question stays for a person."""
    sent = seed_campaign(session, settings, engine, [DELIVERED, LEAVER])
    send_campaign(mail, settings, engine, sent)
    [received] = mail.wait_for_messages(DELIVERED, 1)
    answered = message_from_bytes(received)["Message-ID"]
    reply = plain_mail(DELIVERED, NOREPLY, "Re: Spring news", "Unsubscribe\r\n\r\n> Hello!")
    mail.deliver(NOREPLY, f"In-Reply-To: {answered}\r\n".encode() + reply)
    mail.deliver(NOREPLY, plain_mail("stranger@remote.test", NOREPLY, "unsubscribe", ""))
    question = plain_mail(LEAVER, NOREPLY, "How do I unsubscribe?", "I cannot find the link.")
    mail.deliver(NOREPLY, question)

    sweep = run_sweep(mailbox_settings(settings, mail), engine, trigger="cli")

    assert sweep is not None and sweep.state == "done", sweep and sweep.error
    assert (sweep.seen, sweep.recorded, sweep.deleted, sweep.kept) == (3, 2, 2, 1)
    assert sweep.per_kind == {"unsubscribe": 2} and sweep.per_layer == {"ledger": 1, "none": 1}
    assert mail.messages(NOREPLY) == [question]
    session.expire_all()
    rows = {b.email: b for b in session.exec(select(Bounce))}
    mine, stranger = rows[DELIVERED], rows["stranger@remote.test"]
    assert (mine.kind, mine.attribution, mine.delivery_id, mine.campaign_id) == (
        "unsubscribe", "ledger", sent.by(DELIVERED).id, sent.campaign.id,
    )  # fmt: skip
    assert (stranger.kind, stranger.attribution, stranger.suppression_id) == ("unsubscribe", "none", None)
    [suppression] = session.exec(select(Suppression)).all()
    assert (suppression.email, suppression.reason, mine.suppression_id) == (DELIVERED, "unsubscribed", suppression.id)
    session.commit()


def test_a_message_someone_else_flagged_deleted_is_not_expunged(
    mail: MailStack, settings: Settings, engine: Engine, session: Session
) -> None:
    """The sweep expunges by UID only the messages it recorded: a person's mail client may have flagged
    another message \\Deleted and not expunged it yet, and that message stays."""
    sent = seed_campaign(session, settings, engine, [UNKNOWN])
    mail.deliver(NOREPLY, dsn(return_path(settings, engine, sent.by(UNKNOWN)), UNKNOWN, "5.1.1"))
    human = plain_mail("reader@remote.test", NOREPLY, "Hello", "Do you ship to Norway?")
    mail.deliver(NOREPLY, human)
    with MailBoxStartTls(mail.host, mail.imap_port, ssl_context=ssl.create_default_context(cafile=mail.cafile)).login(
        NOREPLY, mail.users[NOREPLY]
    ) as box:
        (uid,) = [m.uid for m in box.fetch(mark_seen=False) if m.subject == "Hello"]
        # flagged only, as a mail client does before it expunges (imap-tools' flag() would expunge too)
        typ, _ = box.client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
        assert typ == "OK"

    sweep = run_sweep(mailbox_settings(settings, mail), engine, trigger="cli")

    assert sweep is not None and (sweep.state, sweep.recorded, sweep.deleted, sweep.kept) == ("done", 1, 1, 1)
    assert mail.messages(NOREPLY) == [human]
    assert _flags(mail, NOREPLY) == ["T"]  # still flagged, as its reader left it
