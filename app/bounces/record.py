"""Record classified messages and act on them, a batch at a time, inside the caller's transaction.

What each kind does:
- bounce (action failed): a `bounce` row; the delivery, if still `sent`, becomes `bounced`; then
  the suppression policy runs for the address. A `delayed` DSN is recorded as kind `delayed`: the
  message may still arrive, so it neither flips the delivery nor counts towards suppression.
- complaint (ARF): a `complaint` row and a `complained` suppression.
- unsubscribe (mail to noreply+u…@ / +c…@, or an unsubscribe command from a person we mailed): an
  `unsubscribe` row and an `unsubscribed` suppression (a stranger's command is recorded, nothing more).
- autoreply: an `autoreply` row, nothing else (never counted, never answered).
- delivery (success DSN): a `delivery` row for the ledger's history.
An existing suppression for the address is kept as it is (its first reason stands) and linked.

The rows are written with bulk statements (a few per batch, not a few per message): that is what
lets a sweep keep up with the mailbox."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from app.bounces.attribution import Attribution, Lookup
from app.bounces.policy import BouncePolicy, apply_policy_many
from app.bounces.suppress import Wanted, ensure_suppressions
from app.db import chunks, insert_rows
from app.models import Bounce, Delivery, ProcessedMessage
from app.webhooks.events import emit_findings
from bounce_parsers import Classification, Recipient

SUPPRESSION_REASON = {"complaint": "complained", "unsubscribe": "unsubscribed"}


@dataclass(frozen=True)
class SweepContext:
    sweep_id: int
    secret: bytes
    policy: BouncePolicy

    @property
    def source(self) -> str:
        return f"sweep {self.sweep_id}"


@dataclass(frozen=True)
class Incoming:
    """One fetched and classified message."""

    mailbox_id: str
    content_hash: str
    size: int
    found: Classification
    kind: str  # what the sweep handles it as; `none` = human or unrecognised, kept


@dataclass(frozen=True)
class Recorded:
    processed_id: int
    layers: tuple[str, ...]


def message_kind(lookup: Lookup, found: Classification) -> str:
    """A human-looking mail to an unsubscribe address is an unsubscribe request; otherwise the classifier decides."""
    if found.kind == "none" and lookup.unsubscribe_target(found) is not None:
        return "unsubscribe"
    return found.kind


def _findings(lookup: Lookup, item: Incoming) -> list[tuple[Attribution, Recipient]]:
    found = item.found
    if item.kind == "unsubscribe":
        target = lookup.unsubscribe_target(found)
        if target is not None:
            return [(target, Recipient(target.email, "", "", "unsubscribe", False, found.subject[:200], "", ""))]
        # a command mailed to the bare address: its sender, tied to what we sent them
        return [(lookup.attribute(found, r.address), r) for r in found.recipients]
    recipients = found.recipients or (Recipient("", "", "", item.kind, False, "", "", ""),)
    # a finding that names neither an address nor a delivery has nothing to record: the message row is the record
    return [(where, r) for r in recipients if (where := lookup.attribute(found, r.address)).email_key]


def _bounce_row(ctx: SweepContext, item: Incoming, processed_id: int, where: Attribution, r: Recipient,
                now: datetime) -> dict[str, Any]:  # fmt: skip
    kind = "delayed" if item.kind == "bounce" and r.action == "delayed" else item.kind
    original = item.found.original_message_id
    return {
        "kind": kind, "reason": r.reason[:40], "hard": r.hard and kind == "bounce", "email": where.email[:320],
        "email_key": where.email_key[:320], "status": r.status[:20], "reply_code": r.reply[:10],
        "diagnostic": r.diagnostic[:2000], "remote_mta": r.remote_mta[:300], "delivery_id": where.delivery_id,
        "campaign_id": where.campaign_id, "attribution": where.layer, "source": "sweep", "sweep_id": ctx.sweep_id,
        "processed_message_id": processed_id, "original_message_id": original[:300] if original else None,
        "original_headers": item.found.original_headers,
        "evidence": item.found.evidence[:200], "suppression_id": None, "created_at": now,
    }  # fmt: skip


def record_batch(session: Session, ctx: SweepContext, lookup: Lookup, items: list[Incoming],
                 now: datetime) -> list[Recorded]:  # fmt: skip
    """Write the processed-message rows, the findings and their consequences; the caller commits."""
    if not items:
        return []
    # ids read back by hash: INSERT..RETURNING in parameter order is one statement per row on SQLite
    insert_rows(
        session,
        ProcessedMessage,
        [
            {
                "sweep_id": ctx.sweep_id,
                "mailbox_uid": i.mailbox_id[:200],
                "content_hash": i.content_hash,
                "kind": i.kind,
                "size": i.size,
                "deleted_at": None,
                "created_at": now,
            }
            for i in items
        ],  # fmt: skip
    )
    processed_ids = _processed_ids(session, [i.content_hash for i in items])
    rows: list[dict[str, Any]] = []
    recorded = []
    for item in items:
        processed_id = processed_ids[item.content_hash]
        findings = _findings(lookup, item)
        rows.extend(_bounce_row(ctx, item, processed_id, where, r, now) for where, r in findings)
        recorded.append(Recorded(processed_id, tuple(where.layer for where, _ in findings)))
    _link_requests(session, ctx, rows, now)
    if rows:
        insert_rows(session, Bounce, rows)
        emit_findings(session, rows, now)  # webhooks, stored in this transaction
        _act_on_bounces(session, ctx, rows, now)
    return recorded


def _processed_ids(session: Session, digests: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in chunks(digests):
        stmt = select(ProcessedMessage.content_hash, ProcessedMessage.id).where(
            ProcessedMessage.content_hash.in_(chunk)  # type: ignore[attr-defined]
        )
        ids.update(session.execute(stmt).tuples().all())
    return ids


def _link_requests(session: Session, ctx: SweepContext, rows: list[dict[str, Any]], now: datetime) -> None:
    """Complaints and unsubscribe requests: suppress the address, and point the row at the suppression."""
    # a stranger's mailed unsubscribe command is recorded but suppresses nobody: anyone can forge a From
    asked = [
        r for r in rows if r["kind"] in SUPPRESSION_REASON and (r["kind"], r["attribution"]) != ("unsubscribe", "none")
    ]
    if not asked:
        return
    wanted = {
        r["email_key"]: Wanted(r["email"], SUPPRESSION_REASON[r["kind"]], r["campaign_id"], r["delivery_id"])
        for r in reversed(asked)  # the first request for an address wins
    }
    ids = ensure_suppressions(session, wanted, ctx.source, now)
    for r in asked:
        r["suppression_id"] = ids[r["email_key"]]


def _act_on_bounces(session: Session, ctx: SweepContext, rows: list[dict[str, Any]], now: datetime) -> None:
    failed = [r for r in rows if r["kind"] == "bounce"]
    bounced_deliveries = sorted({r["delivery_id"] for r in failed if r["delivery_id"] is not None})
    for ids in chunks(bounced_deliveries):
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.state == "sent")  # type: ignore[union-attr]
            .values(state="bounced", bounced_at=now)
        )
    attributed = {r["email_key"]: r["email"] for r in failed if r["attribution"] != "none"}
    apply_policy_many(session, ctx.policy, attributed, now, ctx.source)
