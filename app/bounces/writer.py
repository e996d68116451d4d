"""The one writer of bounce rows. The sweep (classified messages from the noreply mailbox) and the
sender (a relay's 5xx at send time, or the retry schedule giving up) both build their findings with
`bounce_row` and hand them to `record_findings`, which writes them (a sweep's batch in bulk) and acts
on them inside the caller's transaction:
- complaint and unsubscribe rows suppress their address and point at the suppression (a stranger's
  mailed unsubscribe command is recorded, nothing more: anyone can forge a From);
- bounce, complaint and unsubscribe rows become webhook events, stored with the fact;
- a bounce that came back by mail for a delivery still `sent` makes it `bounced`;
- the suppression policy runs for every address with a bounce tied to something we sent.
An existing suppression for an address is kept as it is (its first reason stands) and linked."""

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from app.audience.queries import unsubscribe_scope
from app.bounces.policy import BouncePolicy, apply_policy_many
from app.bounces.suppress import Wanted, ensure_suppressions
from app.db import chunks, insert_rows
from app.models import Bounce, Contact, Delivery, TransactionalMessage
from app.models.bounces import REASON_LENGTH, REPLY_CODE_LENGTH, STATUS_LENGTH
from app.models.states import BounceKind, BounceSource, DeliveryState, MessageState, SuppressionReason
from app.models.types import EMAIL_LENGTH, LINE_LENGTH, NAME_LENGTH, TEXT_LENGTH
from app.subscription import consent
from app.webhooks.events import emit_findings
from bounce_parsers import classify_smtp_reply

# the suppression a request makes
SUPPRESSION_REASON = {
    BounceKind.COMPLAINT: SuppressionReason.COMPLAINED,
    BounceKind.UNSUBSCRIBE: SuppressionReason.UNSUBSCRIBED,
}
ATTRIBUTION_NONE = "none"  # tied to nothing we sent: recorded, never acted on
_STATUS_RE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def bounce_row(
    *,
    kind: str,
    reason: str,
    hard: bool,
    email: str,
    email_key: str,
    attribution: str,
    source: str,
    now: datetime,
    status: str = "",
    reply_code: str = "",
    diagnostic: str = "",
    remote_mta: str = "",
    delivery_id: int | None = None,
    campaign_id: int | None = None,
    transactional_id: int | None = None,
    sweep_id: int | None = None,
    processed_message_id: int | None = None,
    original_message_id: str | None = None,
    original_headers: str = "",
    evidence: str = "",
) -> dict[str, Any]:
    """One Bounce row as `record_findings` writes it: every column given, text cut to its column."""
    return {
        "kind": kind,
        "reason": reason[:REASON_LENGTH],
        "hard": hard,
        "email": email[:EMAIL_LENGTH],
        "email_key": email_key[:EMAIL_LENGTH],
        "status": status[:STATUS_LENGTH],
        "reply_code": reply_code[:REPLY_CODE_LENGTH],
        "diagnostic": diagnostic[:TEXT_LENGTH],
        "remote_mta": remote_mta[:LINE_LENGTH],
        "delivery_id": delivery_id,
        "campaign_id": campaign_id,
        "transactional_id": transactional_id,
        "attribution": attribution,
        "source": source,
        "sweep_id": sweep_id,
        "processed_message_id": processed_message_id,
        "original_message_id": original_message_id[:LINE_LENGTH] if original_message_id else None,
        "original_headers": original_headers,
        "evidence": evidence[:NAME_LENGTH],
        "suppression_id": None,
        "created_at": now,
    }


def send_failure_row(
    *,
    email: str,
    email_key: str,
    delivery_id: int,
    campaign_id: int,
    code: int | None,
    text: str,
    relay_host: str,
    now: datetime,
    gave_up_after: int | None = None,
) -> dict[str, Any]:
    """The bounce row for a message our relay refused for good (`code` 5xx), or, with `gave_up_after`
    attempts, for one the retry schedule gave up on. Attributed to its delivery by the ledger."""
    if gave_up_after is not None:
        reason, hard, source = "expired", False, BounceSource.EXPIRY
        diagnostic = f"gave up after {gave_up_after} attempts; last reply: {code} {text}"
    else:
        reason, hard = classify_smtp_reply(code or 550, text)
        source, diagnostic = BounceSource.SMTP, text
    status = _STATUS_RE.search(text)
    return bounce_row(
        kind=BounceKind.BOUNCE,
        reason=reason,
        hard=hard,
        email=email,
        email_key=email_key,
        status=status.group(1) if status else "",
        reply_code=str(code or ""),
        diagnostic=diagnostic,
        remote_mta=relay_host,
        delivery_id=delivery_id,
        campaign_id=campaign_id,
        attribution="ledger",
        source=source,
        now=now,
    )


def record_findings(
    session: Session, rows: list[dict[str, Any]], policy: BouncePolicy, now: datetime, source: str | None = None
) -> None:
    """Write ROWS (from `bounce_row`) and their consequences; the caller commits. SOURCE names what the
    suppressions this makes came from (`sweep 12`), and the rows are written as one batch. Without it
    (the sender's few rows) they are written one at a time, in order, each naming its own source and
    campaign (`smtp, campaign 7`): the bounce that puts an address over a threshold names its suppression."""
    if source is None:
        for row in rows:
            what = f"campaign {row['campaign_id']}" if row["campaign_id"] is not None else "signup mail"
            _write(session, [row], policy, now, f"{row['source']}, {what}")
    elif rows:
        _write(session, rows, policy, now, source)


def _write(session: Session, rows: list[dict[str, Any]], policy: BouncePolicy, now: datetime, source: str) -> None:
    _link_requests(session, rows, source, now)
    insert_rows(session, Bounce, rows)
    emit_findings(session, rows, now)  # webhooks, stored in this transaction
    failed = [r for r in rows if r["kind"] == BounceKind.BOUNCE]
    _mark_bounced(session, failed, now)
    # a bounce we cannot tie to anything we sent (backscatter from forged mail) never suppresses
    attributed = {r["email_key"]: r["email"] for r in failed if r["attribution"] != ATTRIBUTION_NONE}
    apply_policy_many(session, policy, attributed, now, source)


def _link_requests(session: Session, rows: list[dict[str, Any]], source: str, now: datetime) -> None:
    """Complaints and unsubscribe requests: suppress the address, and point the row at the suppression."""
    asked = [
        r
        for r in rows
        if r["kind"] in BounceKind.REQUESTS
        and (r["kind"], r["attribution"]) != (BounceKind.UNSUBSCRIBE, ATTRIBUTION_NONE)
    ]
    if not asked:
        return

    def scope(r: dict[str, Any]) -> tuple[int, ...]:
        """A mailed unsubscribe tied to a campaign leaves its lists; otherwise (and a complaint) every list."""
        if r["kind"] != BounceKind.UNSUBSCRIBE:
            return ()
        return tuple(sorted(unsubscribe_scope(session, r["campaign_id"], r["email_key"]) or ()))

    wanted = {
        r["email_key"]: Wanted(r["email"], SUPPRESSION_REASON[r["kind"]], r["campaign_id"], r["delivery_id"], scope(r))
        for r in reversed(asked)  # the first request for an address wins
    }
    ids = ensure_suppressions(session, wanted, source, now)
    for r in asked:
        r["suppression_id"] = ids[r["email_key"]]
    unsubscribed = {k: w for k, w in wanted.items() if w.reason == SuppressionReason.UNSUBSCRIBED}
    by_scope: dict[tuple[int, ...], list[str]] = {}
    for key, w in unsubscribed.items():
        by_scope.setdefault(w.list_ids, []).append(key)
    actor = consent.Actor(consent.ActorKind.MAILED_COMMAND)
    for list_ids, keys in by_scope.items():  # the consent ledger: one row per list left (or one for all)
        contacts = select(col(Contact.id)).where(col(Contact.email_key).in_(sorted(keys)))
        for list_id in list_ids or (None,):
            consent.append_for_query(
                session, contacts, consent.Entry(0, consent.Action.UNSUBSCRIBE, list_id, source), actor, now
            )


def _mark_bounced(session: Session, failed: list[dict[str, Any]], now: datetime) -> None:
    """A delivery or signup mail that went out and came back by mail: `sent` becomes `bounced`. (The
    sender has already written the state of one the relay refused.)"""
    message_ids = sorted(
        {
            r["transactional_id"]
            for r in failed
            if r["transactional_id"] is not None and r["source"] == BounceSource.SWEEP
        }
    )
    for ids in chunks(message_ids):
        session.execute(
            update(TransactionalMessage)
            .where(col(TransactionalMessage.id).in_(ids), col(TransactionalMessage.state) == MessageState.SENT)
            .values(state=MessageState.BOUNCED)
        )
    delivery_ids = sorted(
        {r["delivery_id"] for r in failed if r["delivery_id"] is not None and r["source"] == BounceSource.SWEEP}
    )
    for ids in chunks(delivery_ids):
        session.execute(
            update(Delivery)
            .where(col(Delivery.id).in_(ids), col(Delivery.state) == DeliveryState.SENT)
            .values(state=DeliveryState.BOUNCED, bounced_at=now)
        )
