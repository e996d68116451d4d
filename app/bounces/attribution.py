"""Tie a returned message's recipient to the delivery it came from, in layers, strongest first:

1. verp    - the envelope's noreply+TOKEN@ (Delivered-To/X-Original-To/To, or the DSN's envelope id);
   A signup mail (confirmation, welcome) is tied the same way by its noreply+tTOKEN@ return path;
2. header  - our X-Bulkmail-Delivery / X-Bulkmail-Campaign headers inside the returned original;
3. ledger  - the reported recipient matched against the ledger (by the original Message-ID first,
             else the address's most recent delivery that went out); a signup mail's Message-ID
             `<tTOKEN@domain>` carries its signed id, so it names its message here too;
4. address - no delivery, but the address is one of our contacts;
5. none    - an address we never sent to (recorded, but see policy: it never suppresses).

When VERP or our headers name a delivery and the report names one recipient, the delivery's own
address is what gets recorded: forwarding or a redacted complaint may report a different one.

A sweep attributes a whole batch at once: `Lookup` reads every delivery and contact the batch can
refer to in a few queries, then attribution is plain Python over what it read."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from app.addresses import email_key
from app.db import chunks
from app.models import Contact, Delivery, TransactionalMessage
from app.tokens import parse_token
from bounce_parsers import Classification


@dataclass(frozen=True)
class DeliveryRef:
    id: int
    email: str
    email_key: str
    campaign_id: int
    state: str
    message_id: str | None


@dataclass(frozen=True)
class MessageRef:
    """A signup mail (app.subscription.mail) as attribution needs it."""

    id: int
    email: str
    email_key: str


@dataclass(frozen=True)
class Attribution:
    email: str
    email_key: str
    layer: str
    delivery: DeliveryRef | None = None
    message: MessageRef | None = None

    @property
    def transactional_id(self) -> int | None:
        return self.message.id if self.message else None

    @property
    def delivery_id(self) -> int | None:
        return self.delivery.id if self.delivery else None

    @property
    def campaign_id(self) -> int | None:
        return self.delivery.campaign_id if self.delivery else None


_DELIVERY_COLUMNS = (
    col(Delivery.id),
    col(Delivery.email),
    col(Delivery.email_key),
    col(Delivery.campaign_id),
    col(Delivery.state),
    col(Delivery.message_id),
)


def _as_int(value: str | None) -> int | None:
    value = (value or "").strip().strip("<>")
    return int(value) if value.isdigit() and len(value) < 19 else None


def _bare_id(message_id: str | None) -> str:
    return (message_id or "").strip().strip("<>").lower()


class Lookup:
    """The ledger and contacts as far as one batch of classified messages can refer to them."""

    def __init__(self, session: Session, secret: bytes, founds: Sequence[Classification]) -> None:
        self.secret = secret
        self._tokens: dict[str, tuple[str, int] | None] = {}
        delivery_ids: set[int] = set()
        contact_ids: set[int] = set()
        message_ids: set[int] = set()
        keys: set[str] = set()
        for found in founds:
            for kind, ident in self._parsed(found):
                if kind == "t":
                    message_ids.add(ident)
                elif kind in ("c", "d", "u"):
                    (contact_ids if kind == "c" else delivery_ids).add(ident)
            if (by_id := self._message_by_id(found)) is not None:
                message_ids.add(by_id)
            if (header := self._header_id(found)) is not None:
                delivery_ids.add(header)
            keys.update(email_key(r.address) for r in found.recipients if r.address)
        self.deliveries: dict[int, DeliveryRef] = {}
        for ids in chunks(sorted(delivery_ids)):
            for row in session.execute(select(*_DELIVERY_COLUMNS).where(col(Delivery.id).in_(ids))):
                self.deliveries[row.id] = DeliveryRef(*row)
        # every delivery that went out to a reported address, newest first: the ledger layer's candidates
        self.by_key: dict[str, list[DeliveryRef]] = defaultdict(list)
        for chunk in chunks(sorted(keys)):
            stmt = (
                select(*_DELIVERY_COLUMNS)
                .where(col(Delivery.email_key).in_(chunk), col(Delivery.sent_at).is_not(None))
                .order_by(col(Delivery.sent_at).desc(), col(Delivery.id).desc())
            )
            for row in session.execute(stmt):
                self.by_key[row.email_key].append(DeliveryRef(*row))
        self.messages: dict[int, MessageRef] = {}
        for ids in chunks(sorted(message_ids)):
            for row in session.execute(
                select(col(TransactionalMessage.id), col(TransactionalMessage.email), col(TransactionalMessage.email_key))
                .where(col(TransactionalMessage.id).in_(ids))
            ):  # fmt: skip
                self.messages[row.id] = MessageRef(*row)
        self.contacts: dict[int, tuple[str, str]] = {}
        self.contact_keys: set[str] = set()
        for ids in chunks(sorted(contact_ids)):
            for cid, email, key in session.execute(
                select(col(Contact.id), col(Contact.email), col(Contact.email_key)).where(col(Contact.id).in_(ids))
            ):
                self.contacts[cid] = (email, key)
        for chunk in chunks(sorted(keys)):
            self.contact_keys.update(
                session.execute(select(col(Contact.email_key)).where(col(Contact.email_key).in_(chunk))).scalars()
            )

    def _parsed(self, found: Classification) -> list[tuple[str, int]]:
        out = []
        for raw in found.verp_tokens:
            if raw not in self._tokens:
                token = parse_token(self.secret, raw)
                self._tokens[raw] = (token.kind, token.ident) if token else None
            if (parsed := self._tokens[raw]) is not None:
                out.append(parsed)
        return out

    def _message_by_id(self, found: Classification) -> int | None:
        """The signup mail a returned original's Message-ID `<tTOKEN@domain>` names (signed, so not forged)."""
        local = _bare_id(found.original_message_id).partition("@")[0]
        if not local.startswith("t"):
            return None
        token = parse_token(self.secret, local)
        return token.ident if token and token.kind == "t" else None

    def _message(self, found: Classification) -> tuple[str, MessageRef] | None:
        for kind, ident in self._parsed(found):
            if kind == "t" and ident in self.messages:
                return "verp", self.messages[ident]
        by_id = self._message_by_id(found)
        if by_id is not None and by_id in self.messages:
            return "ledger", self.messages[by_id]
        return None

    def _header_id(self, found: Classification) -> int | None:
        if not found.delivery_id:
            return None
        token = parse_token(self.secret, found.delivery_id)
        return token.ident if token and token.kind == "d" else _as_int(found.delivery_id)

    def unsubscribe_target(self, found: Classification) -> Attribution | None:
        """A mail to noreply+u…@ (by delivery) or noreply+c…@ (by contact) is an unsubscribe request."""
        for kind, ident in self._parsed(found):
            if kind == "u" and (d := self.deliveries.get(ident)) is not None:
                return Attribution(d.email, d.email_key, "verp", d)
            if kind == "c" and (c := self.contacts.get(ident)) is not None:
                return Attribution(c[0], c[1], "verp")
        return None

    def attribute(self, found: Classification, address: str) -> Attribution:
        key = email_key(address) if address else ""
        verp = next((self.deliveries[i] for k, i in self._parsed(found) if k == "d" and i in self.deliveries), None)
        header = self.deliveries.get(self._header_id(found) or -1)
        campaign = _as_int(found.campaign_id)
        if header is not None and campaign is not None and header.campaign_id != campaign:
            header = None  # the two headers disagree: trust neither
        for layer, delivery in (("verp", verp), ("header", header)):
            if delivery is not None and (len(found.recipients) <= 1 or not key or delivery.email_key == key):
                return Attribution(delivery.email, delivery.email_key, layer, delivery)
        if verp is None and (signup := self._message(found)) is not None:
            layer, message = signup
            if len(found.recipients) <= 1 or not key or message.email_key == key:
                return Attribution(message.email, message.email_key, layer, message=message)
        if not key:
            return Attribution("", "", "none")
        candidates = self.by_key.get(key, [])
        if campaign is not None:
            for d in candidates:
                if d.campaign_id == campaign:
                    return Attribution(d.email, key, "header", d)
        original = _bare_id(found.original_message_id)
        if original:
            for d in candidates:
                if _bare_id(d.message_id) == original:
                    return Attribution(d.email, key, "ledger", d)
        if candidates:
            return Attribution(candidates[0].email, key, "ledger", candidates[0])
        if key in self.contact_keys:
            return Attribution(address, key, "address")
        return Attribution(address, key, "none")
