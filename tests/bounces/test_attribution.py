"""Attribution layers and the suppression policy, with reports dropped into the real noreply mailbox."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.bounces.sweep import run_sweep
from app.models import Bounce, Contact, Delivery, Suppression, utcnow
from app.settings import Settings
from tests.bounces.support import NOREPLY, dsn, mailbox_settings, original_headers, seed_campaign
from tests.support.mailstack import MailStack

pytestmark = pytest.mark.mailstack


def _sweep(mail: MailStack, settings: Settings, engine: Engine, **extra: object):  # type: ignore[no-untyped-def]
    sweep = run_sweep(mailbox_settings(settings, mail, **extra), engine, trigger="cli")
    assert sweep is not None and sweep.state == "done", sweep and sweep.error
    return sweep


def _bounces(session: Session) -> dict[str, Bounce]:
    session.expire_all()
    rows = {b.email: b for b in session.exec(select(Bounce))}
    session.commit()  # SQLite: release the write lock for the next sweep (and keep the rows loaded)
    return rows


def test_each_layer_is_used_when_the_stronger_ones_are_missing(
    mail: MailStack, settings: Settings, engine: Engine, session: Session
) -> None:
    sent = seed_campaign(
        session, settings, engine, ["hdr@remote.test", "ledger@remote.test", "byid@remote.test"], verp=False
    )
    session.add(Contact(email="known@remote.test", email_key="known@remote.test"))
    session.commit()
    hdr, byid = sent.by("hdr@remote.test"), sent.by("byid@remote.test")
    # no VERP (plain noreply@), our headers in the returned part
    mail.deliver(NOREPLY, dsn(NOREPLY, "hdr@remote.test", "5.1.1", returned=original_headers(sent, hdr)))
    # no VERP, no headers of ours: the reported recipient is in the ledger
    mail.deliver(NOREPLY, dsn(NOREPLY, "Ledger@Remote.test", "5.1.1", returned="Subject: hi\r\n"))
    # the original Message-ID picks the delivery
    mail.deliver(NOREPLY, dsn(NOREPLY, "byid@remote.test", "5.1.1", returned=f"Message-ID: {byid.message_id}\r\n"))
    # a contact we never mailed, and a stranger
    mail.deliver(NOREPLY, dsn(NOREPLY, "known@remote.test", "5.1.1"))
    mail.deliver(NOREPLY, dsn(NOREPLY, "stranger@remote.test", "5.1.1"))

    sweep = _sweep(mail, settings, engine)

    assert sweep.per_layer == {"header": 1, "ledger": 2, "address": 1, "none": 1}
    rows = _bounces(session)
    assert (rows["hdr@remote.test"].attribution, rows["hdr@remote.test"].delivery_id) == ("header", hdr.id)
    assert rows["ledger@remote.test"].attribution == "ledger"
    assert rows["ledger@remote.test"].delivery_id == sent.by("ledger@remote.test").id
    assert (rows["byid@remote.test"].attribution, rows["byid@remote.test"].delivery_id) == ("ledger", byid.id)
    assert (rows["known@remote.test"].attribution, rows["known@remote.test"].delivery_id) == ("address", None)
    stranger = rows["stranger@remote.test"]
    assert (stranger.attribution, stranger.delivery_id, stranger.kind) == ("none", None, "bounce")
    suppressed = set(session.exec(select(Suppression.email)))
    assert suppressed == {"hdr@remote.test", "ledger@remote.test", "byid@remote.test", "known@remote.test"}, (
        "an unattributed bounce is recorded but never suppresses (forged mail must not suppress strangers)"
    )
    assert mail.messages(NOREPLY) == []


def test_soft_bounces_suppress_at_the_threshold_and_delay_warnings_never_count(
    mail: MailStack, settings: Settings, engine: Engine, session: Session
) -> None:
    sent = seed_campaign(session, settings, engine, ["full@remote.test"])
    d = sent.by("full@remote.test")
    to = f"noreply+{d.verp_token}@example.test"
    mail.deliver(NOREPLY, dsn(to, d.email, "4.4.7", action="delayed", diagnostic="delivery temporarily suspended"))
    mail.deliver(NOREPLY, dsn(to, d.email, "5.2.2", diagnostic="552 5.2.2 mailbox full"))
    mail.deliver(NOREPLY, dsn(to, d.email, "5.2.2", diagnostic="552 5.2.2 Mailbox full, over quota"))
    _sweep(mail, settings, engine)
    session.expire_all()
    rows = list(session.exec(select(Bounce).order_by(Bounce.id)))
    assert sorted(b.kind for b in rows) == ["bounce", "bounce", "delayed"]
    assert all(not b.hard for b in rows)
    assert session.exec(select(Suppression)).all() == [], "two soft bounces, threshold three"
    assert session.get(Delivery, d.id).state == "bounced"
    session.commit()  # SQLite: release the write lock before the next sweep

    mail.deliver(NOREPLY, dsn(to, d.email, "5.2.2", diagnostic="552 5.2.2 mailbox full again"))
    sweep = _sweep(mail, settings, engine)
    session.expire_all()
    suppression = session.exec(select(Suppression)).one()
    assert (suppression.reason, suppression.source) == ("bounced", f"sweep {sweep.id}")
    linked = session.exec(select(Bounce).where(Bounce.suppression_id == suppression.id)).all()
    assert sorted(b.kind for b in linked) == ["bounce"] * 3, "the three soft bounces, not the delay warning"


def test_a_delay_warning_does_not_mark_the_delivery_bounced(
    mail: MailStack, settings: Settings, engine: Engine, session: Session
) -> None:
    sent = seed_campaign(session, settings, engine, ["slow@remote.test"])
    d = sent.by("slow@remote.test")
    mail.deliver(NOREPLY, dsn(f"noreply+{d.verp_token}@example.test", d.email, "4.4.7", action="delayed"))
    _sweep(mail, settings, engine)
    session.expire_all()
    assert session.get(Delivery, d.id).state == "sent"
    assert session.exec(select(Bounce.kind)).all() == ["delayed"]


def test_old_soft_bounces_fall_out_of_the_window(
    mail: MailStack, settings: Settings, engine: Engine, session: Session
) -> None:
    sent = seed_campaign(session, settings, engine, ["flaky@remote.test"])
    d = sent.by("flaky@remote.test")
    for days in (40, 35):
        session.add(
            Bounce(
                kind="bounce",
                reason="mailboxfull",
                email=d.email,
                email_key=d.email_key,
                attribution="verp",
                created_at=utcnow() - timedelta(days=days),
            )
        )
    session.commit()
    mail.deliver(NOREPLY, dsn(f"noreply+{d.verp_token}@example.test", d.email, "5.2.2"))
    _sweep(mail, settings, engine)
    session.expire_all()
    assert session.exec(select(Suppression)).all() == [], "only one soft bounce within 30 days"
