"""Resending a campaign to those who did not open it: after the wait, its message goes again with the new subject,
through the ledger, to the recipients no person's open was counted for."""

from sqlalchemy import update
from sqlmodel import Session

from app.automations.advance import sweep
from app.models import Delivery, TrackingHit, utcnow
from app.sending import campaigns as service
from tests.automations.support import ledger_rows, time_passes
from tests.sending.conftest import make_campaign, make_list

PEOPLE = [("ann@example.test", "Ann", {"city": "Oslo"}), ("bo@example.test", "Bo", {"city": "Rome"}),
          ("cy@example.test", "Cy", {"city": "Lima"})]  # fmt: skip


def test_the_non_openers_get_the_message_again_with_the_new_subject(client, settings, engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine, expire_on_commit=False) as s:
        members = make_list(s, "Members", PEOPLE)
        campaign = make_campaign(s, [members.id], tracking="contact")
        service.launch(s, campaign, settings, utcnow())
        s.commit()
        s.execute(update(Delivery).values(state="sent", sent_at=utcnow()))  # the worker sent it
        s.commit()
        ann = next(r for r in ledger_rows(engine, "ann@example.test"))
        s.add(TrackingHit(campaign_id=campaign.id, delivery_id=ann.id, link=0, at=utcnow(), machine=False))
        bo = next(r for r in ledger_rows(engine, "bo@example.test"))  # only a machine fetched Bo's pixel
        s.add(TrackingHit(campaign_id=campaign.id, delivery_id=bo.id, link=0, at=utcnow(), machine=True))
        s.commit()
    made = client.post("/api/v1/automations/resend", json={"campaign_id": campaign.id, "days": 3,
                                                            "subject": "In case you missed it"})  # fmt: skip
    assert made.status_code == 201, made.text
    assert [s["kind"] for s in made.json()["steps"]] == ["wait", "branch", "send"]
    assert sweep(engine).entered == 3
    assert len(ledger_rows(engine)) == 3  # nothing before the wait is over
    time_passes(engine)
    sweep(engine)
    again = [r for r in ledger_rows(engine) if r.campaign_id != campaign.id]
    assert sorted(r.email for r in again) == ["bo@example.test", "cy@example.test"]
    resent = made.json()["steps"][2]["campaign_id"]
    assert client.get(f"/api/v1/campaigns/{resent}").json()["subject"] == "In case you missed it"
    untracked = client.post("/api/v1/automations/resend", json={"campaign_id": 999, "days": 3, "subject": "x"})
    assert untracked.status_code == 422 and untracked.json()["errors"][0]["loc"] == ["body", "campaign_id"]
