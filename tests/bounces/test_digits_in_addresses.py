"""Digits in a recipient's address are not a reply code: the real Postfix relay's DSN for the unknown
local user nobody525@ (`5.1.1 unknown user: "nobody525@example.test"`) is a hard bounce, user
unknown, and the address is suppressed after the sweep (it once read as reply 525, "suspend", soft)."""

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.bounces.sweep import run_sweep
from app.models import Bounce, Suppression
from app.settings import Settings
from tests.bounces.support import NOREPLY, mailbox_settings, seed_campaign, send_campaign
from tests.support.mailstack import MailStack

pytestmark = pytest.mark.mailstack

UNKNOWN = ["nobody525@example.test", "user550@example.test", "mx421@example.test"]


def test_unknown_users_with_digits_are_hard_bounces_and_suppressed(
    mail: MailStack, settings: Settings, engine: Engine, session: Session
) -> None:
    sent = seed_campaign(session, settings, engine, UNKNOWN)
    send_campaign(mail, settings, engine, sent)
    dsns = mail.wait_for_messages(NOREPLY, len(UNKNOWN))
    assert b'unknown user: "nobody525@example.test"' in b"".join(dsns), "the relay's own wording"

    sweep = run_sweep(mailbox_settings(settings, mail), engine, trigger="cli")
    assert sweep is not None and sweep.state == "done", sweep and sweep.error

    session.expire_all()
    bounces = {b.email: b for b in session.exec(select(Bounce))}
    assert {a: (b.status, b.reply_code, b.reason, b.hard) for a, b in bounces.items()} == {
        a: ("5.1.1", "", "userunknown", True) for a in UNKNOWN
    }
    suppressed = {s.email: s.reason for s in session.exec(select(Suppression))}
    assert suppressed == dict.fromkeys(UNKNOWN, "bounced")
