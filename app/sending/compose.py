"""From a campaign and one recipient to envelope and bytes: templates, tokens, headers, DKIM.
One Composer per campaign holds what is the same for every recipient."""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

from app.models import Campaign
from app.sending.bodies import Bodies, assemble
from app.sending.dkim_sign import DkimSigner
from app.sending.message import Body, Identity, MessageFactory, Recipient, dot_stuff, encode_body
from app.sending.render import CampaignTemplates, contact_context, render_limits
from app.settings import Settings
from app.tokens import make_preferences_token, make_token, verp_address
from app.tracking.links import Rewriter

if TYPE_CHECKING:
    from app.sending.ledger import Claimed


@dataclass(frozen=True)
class Envelope:
    sender: str
    rcpt: str
    data: bytes  # dot-stuffed, CRLF
    envid: str | None
    verp_token: str | None
    message_id: str
    smtputf8: bool = False  # an address is not ASCII: the relay must offer SMTPUTF8


_Person = tuple[str, str | None, str | None, dict[str, Any] | None]

# the unsubscribe token of a preview: never a real recipient's, and plainly not one
PREVIEW_TOKEN = "preview"


def unsubscribe_url(base_url: str, token: str) -> str:
    """The link a recipient follows to unsubscribe (List-Unsubscribe and {{ unsubscribe_url }})."""
    return f"{base_url.rstrip('/')}/u/{token}"


def preferences_url(base_url: str, token: str) -> str:
    """The link to a recipient's preference page (List-Help and {{ preferences_url }})."""
    return f"{base_url.rstrip('/')}/p/{token}"


# the view-in-browser link of a test send or a preview: there is no delivery to show
VIEW_PREVIEW = "preview"


def view_url(base_url: str, secret: bytes, delivery_id: int | None) -> str:
    """The view-in-browser link of a delivery, signed (app.sending.archive); None: a test send or a preview."""
    token = make_token(secret, "v", delivery_id) if delivery_id is not None else VIEW_PREVIEW
    return f"{base_url.rstrip('/')}/view/{token}"


def message_id_domain(settings: Settings) -> str:
    return settings.message_id_domain or settings.bounce_address.rpartition("@")[2]


def delivery_message_id(settings: Settings, verp_token: str) -> str:
    """Deterministic per delivery: a resend after a crash carries the same Message-ID, which lets
    receivers that deduplicate on it drop the copy."""
    return f"<{verp_token}@{message_id_domain(settings)}>"


def delivery_route(settings: Settings, secret: bytes, delivery_id: int) -> tuple[str, str, str]:
    """(VERP token, envelope sender, Message-ID) of a ledger delivery: a bounce of it finds its row."""
    verp = make_token(secret, "d", delivery_id)
    return verp, verp_address(settings.bounce_address, verp), delivery_message_id(settings, verp)


class Composer:
    def __init__(
        self,
        campaign: Campaign,
        settings: Settings,
        secret: bytes,
        signer: DkimSigner | None,
        *,
        extra_head: Sequence[str] = (),
        relay_ids: tuple[int, ...] = (),
        from_name: str | None = None,
        reply_to: str | None = None,
        sources: Bodies | None = None,
        tracker: Rewriter | None = None,
    ) -> None:
        """EXTRA_HEAD, RELAY_IDS and the From name / reply-to defaults come from the campaign's sending
        identity (app.sending.identities.composer); RELAY_IDS empty: any relay. SOURCES: the campaign's
        templates in its layout, MJML compiled (app.sending.bodies.of_campaign); by default its own, no layout.
        TRACKER rewrites the links of ledger deliveries (never a test send's) and adds the open pixel."""
        self.campaign_id = campaign.id
        self.relay_ids = relay_ids
        self.campaign_name = campaign.name
        self.settings, self.secret, self.signer = settings, secret, signer
        self.limits = render_limits(settings)
        if sources is None:
            sources = assemble(
                campaign.subject,
                campaign.html_template,
                campaign.text_template,
                campaign.template_language,
                None,
                self.limits,
            )
        self.templates = CampaignTemplates.compile(sources.subject, sources.html, sources.text)
        has_html, has_text = bool(sources.html.strip()), bool(sources.text.strip())
        name = campaign.from_name if from_name is None else from_name
        reply = campaign.reply_to if reply_to is None else reply_to
        identity = Identity(name, campaign.from_address, reply, message_id_domain(settings))
        self.factory = MessageFactory(identity, campaign.id, has_html, has_text, extra_head)
        self._utf8_sender = not (campaign.from_address + (reply or "") + settings.bounce_address).isascii()
        # bodies without variables are rendered and encoded once for the whole campaign
        self._static: dict[str, Body | None] = {}
        self._static_text: dict[str, str] = {}
        for part, on in (("html", has_html), ("text", has_text)):
            if not on:
                self._static[part] = None
            elif not _uses_variables(sources.html if part == "html" else sources.text):
                self._static_text[part] = self.templates.render({}, self.limits, [part])[0]
                self._static[part] = encode_body(self._static_text[part])
        self._dynamic = ["subject", *(p for p in ("html", "text") if p not in self._static)]
        self.tracker = tracker
        # an anonymous campaign's links are the same in every message: its static bodies are rewritten once
        self._static_tracked: dict[str, Body] = {}
        if tracker is not None and tracker.mode == "anonymous":
            for part, text in self._static_text.items():
                self._static_tracked[part] = encode_body(self._track(part, text, 0))

    def compose(
        self,
        rcpt: str,
        first_name: str | None,
        last_name: str | None,
        attributes: dict[str, Any] | None,
        delivery_id: int | None = None,
        contact_id: int | None = None,
    ) -> Envelope:
        """A ledger delivery when delivery_id is given; otherwise a test send (unsubscribe by contact,
        plain return path, since there is no ledger row to attribute a bounce to)."""
        sender, verp, message_id, data = self._message(rcpt, first_name, last_name, attributes, delivery_id, contact_id)
        return Envelope(sender, rcpt, dot_stuff(data), verp, verp, message_id, self._utf8_sender or not rcpt.isascii())

    def compose_row(self, row: "Claimed") -> Envelope:
        """A claimed ledger row's message (what a sending thread calls)."""
        return self.compose(
            row.email, row.first_name, row.last_name, row.attributes, delivery_id=row.id, contact_id=row.contact_id
        )

    def message(
        self,
        rcpt: str,
        first_name: str | None,
        last_name: str | None,
        attributes: dict[str, Any] | None,
        contact_id: int,
    ) -> bytes:
        """A test send's message as receivers read it (signed, not dot-stuffed): what the preflight checks."""
        return self._message(rcpt, first_name, last_name, attributes, None, contact_id)[3]

    def _message(
        self,
        rcpt: str,
        first_name: str | None,
        last_name: str | None,
        attributes: dict[str, Any] | None,
        delivery_id: int | None,
        contact_id: int | None,
    ) -> tuple[str, str | None, str, bytes]:
        verp, unsub, sender, message_id = self._route(delivery_id, contact_id)
        url = unsubscribe_url(self.settings.base_url, unsub)
        ctx = self._context((rcpt, first_name, last_name, attributes), delivery_id, contact_id, url)
        prefs = ctx["preferences_url"]
        # RenderFailed (a limit, an error for this contact's values) says which template and why
        rendered = dict(zip(self._dynamic, self.templates.render(ctx, self.limits, self._dynamic), strict=True))
        subject = rendered["subject"]
        html, text = self._body("html", rendered, delivery_id), self._body("text", rendered, delivery_id)
        name = " ".join(p for p in (first_name, last_name) if p)
        mailto = f"mailto:{verp_address(self.settings.bounce_address, unsub)}?subject=unsubscribe"
        data = self.factory.build(
            Recipient(delivery_id, rcpt, name, message_id, url, mailto, prefs), subject, html, text
        )
        if self.signer is not None:
            data = self.signer.sign(data)
        return sender, verp, message_id, data

    def web_view(
        self,
        rcpt: str,
        first_name: str | None,
        last_name: str | None,
        attributes: dict[str, Any] | None,
        delivery_id: int,
        contact_id: int | None,
    ) -> tuple[str, str, str]:
        """Subject, HTML and text of a delivery's message as its recipient got it (the view-in-browser page)."""
        url = unsubscribe_url(self.settings.base_url, make_token(self.secret, "u", delivery_id))
        ctx = self._context((rcpt, first_name, last_name, attributes), delivery_id, contact_id, url)
        subject, html, text = self.templates.render(ctx, self.limits)
        return subject, html, text

    def _route(self, delivery_id: int | None, contact_id: int | None) -> tuple[str | None, str, str, str]:
        """(VERP token, unsubscribe token, envelope sender, Message-ID) of a delivery or of a test send."""
        if delivery_id is not None:
            verp, sender, message_id = delivery_route(self.settings, self.secret, delivery_id)
            return verp, make_token(self.secret, "u", delivery_id), sender, message_id
        unsub = make_token(self.secret, "c", contact_id or 0)
        return None, unsub, self.settings.bounce_address, make_msgid(domain=message_id_domain(self.settings))

    def _context(
        self, person: _Person, delivery_id: int | None, contact_id: int | None, unsubscribe: str
    ) -> dict[str, Any]:
        """The template variables of one message to PERSON (address, first and last name, attributes)."""
        # a row whose contact is gone (erased), or a test send to no contact, gets the unsubscribe page instead
        prefs = (
            unsubscribe
            if not contact_id
            else preferences_url(
                self.settings.base_url, make_preferences_token(self.secret, contact_id, int(time.time()) // 86400)
            )
        )
        ctx = contact_context(*person)
        ctx["unsubscribe_url"] = unsubscribe
        ctx["preferences_url"] = prefs
        ctx["view_in_browser_url"] = view_url(self.settings.base_url, self.secret, delivery_id)
        ctx["campaign"] = self.campaign_name
        return ctx

    def _track(self, part: str, text: str, delivery_id: int) -> str:
        assert self.tracker is not None
        return self.tracker.html(text, delivery_id) if part == "html" else self.tracker.text(text, delivery_id)

    def _body(self, part: str, rendered: dict[str, str], delivery_id: int | None) -> Body | None:
        """A part's encoded body: static ones made once, tracked links rewritten for ledger deliveries."""
        tracked = self.tracker is not None and delivery_id is not None
        if part in self._static_tracked and tracked:
            return self._static_tracked[part]
        if part in self._static:
            if not tracked or part not in self._static_text:
                return self._static[part]
            return encode_body(self._track(part, self._static_text[part], delivery_id or 0))
        return encode_body(self._track(part, rendered[part], delivery_id or 0) if tracked else rendered[part])


def _uses_variables(source: str) -> bool:
    return "{{" in source or "{%" in source
