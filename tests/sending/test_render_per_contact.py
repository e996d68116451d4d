"""A template that is fine for the sample contacts but runs away on one contact's attribute: through
the real worker and the real Postfix relay, that row fails with a readable reason and the campaign
goes on to completion."""

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlmodel import Session

from app.models import Delivery, utcnow
from app.sending import campaigns as service
from tests.sending.conftest import campaign_state, make_campaign, make_list, run_worker_until

pytestmark = pytest.mark.mailstack

NOREPLY = "noreply@example.test"
# quadratic in the contact's `n`: nothing for n = 3, 10^10 empty iterations for n = 100000
TEXT = "Hello {{ first_name }}{% for i in range(n) %}{% for j in range(n) %}{% endfor %}{% endfor %}\n"


def test_one_contact_over_the_time_limit_fails_alone_and_the_campaign_completes(mail, settings, engine, session):
    people = [("alice@example.test", "Alice", {"n": 3}), ("bob@example.test", "Bob", {"n": 3})]
    people += [(f"filler{i}@example.test", f"F{i}", {"n": 3}) for i in range(100)]
    people += [("carol@example.test", "Carol", {"n": 3}), ("dave@example.test", "Dave", {"n": 100000})]
    lst = make_list(session, "everyone", people)  # dave comes after the 100 contacts the check renders
    s = settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "worker_poll_seconds": 0.05, "smtp_timeout": 10.0, "render_timeout_seconds": 1.0,
    })  # fmt: skip
    campaign = make_campaign(session, [lst.id], from_address=NOREPLY, subject="Hi {{ first_name }}",
                             html_template="", text_template=TEXT)  # fmt: skip
    service.launch(session, campaign, s, utcnow())  # the check on launch passes: the samples are fine
    session.commit()

    run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "completed", timeout=90)

    with Session(engine) as fresh:
        rows = {
            d.email: d for d in fresh.execute(select(Delivery).where(Delivery.campaign_id == campaign.id)).scalars()
        }
    dave = rows.pop("dave@example.test")
    assert dave.state == "failed"
    assert dave.last_reply == (
        "not sent: the text template failed for this contact at line 1: rendering took longer than 1 s"
    ), dave.last_reply
    assert {d.state for d in rows.values()} == {"sent"} and len(rows) == 103
    for address, first in (("alice@example.test", "Alice"), ("carol@example.test", "Carol")):
        [raw] = mail.wait_for_messages(address, 1, timeout=15)
        assert f"Hello {first}".encode() in raw
    assert mail.messages("dave@example.test") == []
