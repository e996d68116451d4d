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

The rows are written by the one bounce writer (app.bounces.writer) with bulk statements, a few per
batch, not a few per message: that is what lets a sweep keep up with the mailbox."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.bounces.attribution import Attribution, Lookup
from app.bounces.policy import BouncePolicy
from app.bounces.writer import bounce_row, record_findings
from app.db import chunks, insert_rows
from app.models import ProcessedMessage
from app.models.states import BounceKind, BounceSource
from app.models.types import NAME_LENGTH
from bounce_parsers import Classification, Recipient


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
        return BounceKind.UNSUBSCRIBE
    return found.kind


def _findings(lookup: Lookup, item: Incoming) -> list[tuple[Attribution, Recipient]]:
    found = item.found
    if item.kind == BounceKind.UNSUBSCRIBE:
        target = lookup.unsubscribe_target(found)
        if target is not None:
            return [
                (
                    target,
                    Recipient(target.email, "", "", BounceKind.UNSUBSCRIBE, False, found.subject[:NAME_LENGTH], "", ""),
                )
            ]
        # a command mailed to the bare address: its sender, tied to what we sent them
        return [(lookup.attribute(found, r.address), r) for r in found.recipients]
    recipients = found.recipients or (Recipient("", "", "", item.kind, False, "", "", ""),)
    # a finding that names neither an address nor a delivery has nothing to record: the message row is the record
    return [(where, r) for r in recipients if (where := lookup.attribute(found, r.address)).email_key]


def _bounce_row(
    ctx: SweepContext, item: Incoming, processed_id: int, where: Attribution, r: Recipient, now: datetime
) -> dict[str, Any]:
    kind = BounceKind.DELAYED if item.kind == BounceKind.BOUNCE and r.action == "delayed" else item.kind
    return bounce_row(
        kind=kind,
        reason=r.reason,
        hard=r.hard and kind == BounceKind.BOUNCE,
        email=where.email,
        email_key=where.email_key,
        status=r.status,
        reply_code=r.reply,
        diagnostic=r.diagnostic,
        remote_mta=r.remote_mta,
        delivery_id=where.delivery_id,
        campaign_id=where.campaign_id,
        transactional_id=where.transactional_id,
        attribution=where.layer,
        source=BounceSource.SWEEP,
        sweep_id=ctx.sweep_id,
        processed_message_id=processed_id,
        original_message_id=item.found.original_message_id,
        original_headers=item.found.original_headers,
        evidence=item.found.evidence,
        now=now,
    )


def record_batch(
    session: Session, ctx: SweepContext, lookup: Lookup, items: list[Incoming], now: datetime
) -> list[Recorded]:
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
                "mailbox_uid": i.mailbox_id[:NAME_LENGTH],
                "content_hash": i.content_hash,
                "kind": i.kind,
                "size": i.size,
                "deleted_at": None,
                "created_at": now,
            }
            for i in items
        ],
    )
    recorded_ids = processed_ids(session, [i.content_hash for i in items])
    rows: list[dict[str, Any]] = []
    recorded = []
    for item in items:
        processed_id = recorded_ids[item.content_hash]
        findings = _findings(lookup, item)
        rows.extend(_bounce_row(ctx, item, processed_id, where, r, now) for where, r in findings)
        recorded.append(Recorded(processed_id, tuple(where.layer for where, _ in findings)))
    record_findings(session, rows, ctx.policy, now, ctx.source)
    return recorded


def processed_ids(session: Session, digests: Sequence[str]) -> dict[str, int]:
    """content hash -> processed_message id, for the messages among DIGESTS already recorded."""
    ids: dict[str, int] = {}
    for chunk in chunks(digests):
        stmt = select(col(ProcessedMessage.content_hash), col(ProcessedMessage.id)).where(
            col(ProcessedMessage.content_hash).in_(chunk)
        )
        ids.update(session.execute(stmt).tuples().all())
    return ids
