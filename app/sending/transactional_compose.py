"""A transactional message's bytes: its content was rendered when it was asked for (app.sending.transactional),
so here it is only encoded, given the stream's identity (DKIM key, bounce address, custom headers) and the
ledger row's VERP return path and Message-ID, which tie a bounce or complaint to it as for campaign mail. No
Precedence: bulk and no unsubscribe headers: a password reset or a receipt is no list mail."""

from typing import TYPE_CHECKING

from app.models import MessageContent
from app.sending.compose import Envelope, delivery_route, message_id_domain
from app.sending.dkim_sign import DkimSigner
from app.sending.message import Identity, MessageFactory, Recipient, dot_stuff, encode_body
from app.settings import Settings

if TYPE_CHECKING:
    from app.sending.ledger import Claimed


class TransactionalComposer:
    def __init__(
        self,
        campaign_id: int,
        settings: Settings,
        secret: bytes,
        signer: DkimSigner | None,
        extra_head: list[str],
        relay_ids: tuple[int, ...],
    ) -> None:
        """SETTINGS carry the stream identity's bounce address and Message-ID domain; RELAY_IDS empty: any relay."""
        self.campaign_id, self.settings, self.secret, self.signer = campaign_id, settings, secret, signer
        self.extra_head, self.relay_ids = extra_head, relay_ids

    def compose_row(self, row: "Claimed") -> Envelope:
        assert row.content is not None  # loaded with the claim (app.sending.transactional.attach_contents)
        return self.compose(row.id, row.email, row.content)

    def compose(self, delivery_id: int, rcpt: str, content: MessageContent) -> Envelope:
        verp, sender, message_id = delivery_route(self.settings, self.secret, delivery_id)
        identity = Identity(content.from_name, content.from_address, content.reply_to, message_id_domain(self.settings))
        has_html, has_text = bool(content.html.strip()), bool(content.text.strip())
        factory = MessageFactory(identity, self.campaign_id, has_html, has_text, self.extra_head, bulk=False)
        html = encode_body(content.html) if has_html else None
        text = encode_body(content.text) if has_text else None
        data = factory.build(Recipient(delivery_id, rcpt, "", message_id, "", ""), content.subject, html, text)
        if self.signer is not None:
            data = self.signer.sign(data)
        utf8 = not (content.from_address + (content.reply_to or "") + self.settings.bounce_address + rcpt).isascii()
        return Envelope(sender, rcpt, dot_stuff(data), verp, verp, message_id, utf8)
