"""The public archive of a list and "view in browser".

The archive (`/archive/LIST_ID`, newest first, paged; `/archive/LIST_ID/CAMPAIGN_ID`) shows the campaigns a list
got that are marked `archived`, while the list's own archive is on. A campaign there is rendered for nobody: no
contact is read, and its variables become

* `email`, `first_name`, `last_name` and every attribute: empty (write `{{ first_name or "reader" }}` for a
  greeting that reads well in both);
* `unsubscribe_url` and `preferences_url`: the list's archive page, so nobody can be unsubscribed from there;
* `view_in_browser_url`: the archive page of the message itself; `campaign`: the campaign's name.

"View in browser" (`{{ view_in_browser_url }}` in a message) is signed per delivery (`/view/TOKEN`, a token of kind
`v`): the recipient sees their own message, rendered as it was sent, with the same links — the page shows
nothing the message itself did not. A delivery whose contact was erased gets the archive rendering. A test send or
the compose preview links to `/view/preview`, which says so. Both routes are bounded: each render has the render
limits, and an archive rendering is kept per campaign version, so a busy archive page renders once."""

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, text
from sqlmodel import Session, col

from app.db import is_postgresql
from app.keyset import after_time_id
from app.models import Campaign, Contact, Delivery, MailingList, MessageTemplate
from app.sending import bodies, identities
from app.sending.render import CampaignTemplates, RenderFailed, TemplateProblem, render_limits
from app.settings import Settings
from app.tokens import parse_token

_KEPT = 64  # archive renderings kept (a campaign's, until it changes)


@dataclass(frozen=True)
class WebMessage:
    campaign_id: int
    name: str
    subject: str
    html: str  # the HTML body, or the text body escaped into a <pre> when the campaign has no HTML
    sent_at: datetime | None


def archive_url(base_url: str, list_id: int, campaign_id: int | None = None) -> str:
    return f"{base_url.rstrip('/')}/archive/{list_id}" + (f"/{campaign_id}" if campaign_id is not None else "")


def _sent_to(session: Session, list_id: int) -> Any:
    """The condition "the campaign's lists include LIST_ID" on this database."""
    if is_postgresql(session):
        return text("CAST(campaign.list_ids AS jsonb) @> CAST(:archive_list AS jsonb)").bindparams(
            archive_list=f"[{int(list_id)}]"
        )
    return text("EXISTS (SELECT 1 FROM json_each(campaign.list_ids) j WHERE j.value = :archive_list)").bindparams(
        archive_list=int(list_id)
    )


def archive_list(session: Session, list_id: int) -> MailingList | None:
    """The list when its archive is on."""
    ml = session.get(MailingList, list_id)
    return ml if ml is not None and ml.archive else None


def archive_lists_of(session: Session, campaign: Campaign) -> list[MailingList]:
    """The campaign's lists whose archive is on (a campaign has a handful of lists)."""
    if not campaign.list_ids:
        return []
    query = select(MailingList).where(col(MailingList.id).in_(campaign.list_ids), col(MailingList.archive))
    return list(session.execute(query.order_by(col(MailingList.name))).scalars())


def archived_newest_first(session: Session, list_id: int, cursor: str | None) -> Any:
    """The archived campaigns the list got, by the time they started sending, newest first."""
    query = select(Campaign).where(
        and_(col(Campaign.archived), col(Campaign.launched_at).is_not(None), _sent_to(session, list_id))
    )
    return after_time_id(query, col(Campaign.launched_at), col(Campaign.id), cursor)


def _in_archive(session: Session, list_id: int, campaign_id: int) -> Campaign | None:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not campaign.archived or campaign.launched_at is None:
        return None
    return campaign if list_id in campaign.list_ids and archive_list(session, list_id) is not None else None


def _web_html(html: str, text_body: str) -> str:
    if html.strip():
        return html
    from markupsafe import escape

    return f"<pre style='white-space: pre-wrap'>{escape(text_body)}</pre>"


class _Kept:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: OrderedDict[tuple[Any, ...], WebMessage] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> WebMessage | None:
        with self.lock:
            found = self.rows.get(key)
            if found is not None:
                self.rows.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], message: WebMessage) -> None:
        with self.lock:
            self.rows[key] = message
            while len(self.rows) > _KEPT:
                self.rows.popitem(last=False)


_kept = _Kept()


def neutral_context(settings: Settings, campaign: Campaign, list_id: int) -> dict[str, Any]:
    """The template variables of the archive: nobody's (see the module's docstring)."""
    assert campaign.id is not None
    here = archive_url(settings.base_url, list_id)
    return {
        "email": "",
        "first_name": "",
        "last_name": "",
        "attributes": {},
        "unsubscribe_url": here,
        "preferences_url": here,
        "view_in_browser_url": archive_url(settings.base_url, list_id, campaign.id),
        "campaign": campaign.name,
    }


def _render(session: Session, settings: Settings, campaign: Campaign, ctx: Mapping[str, Any]) -> WebMessage | None:
    """The campaign rendered with CTX within the render limits; None when it no longer renders. The session's
    transaction ends first (on SQLite it holds the write lock): only reads were done."""
    assert campaign.id is not None
    limits = render_limits(settings)
    try:
        layout = bodies.layout_of(session, campaign.layout_id)
        layout = None if layout is None else MessageTemplate.model_validate(layout.model_dump())
        kept = Campaign.model_validate(campaign.model_dump())
        session.rollback()
        parts = (kept.subject, kept.html_template, kept.text_template, kept.template_language)
        assembled = bodies.assemble(*parts, layout, limits)
        templates = CampaignTemplates.compile(assembled.subject, assembled.html, assembled.text)
        subject, html, text_body = templates.render(ctx, limits)
    except (TemplateProblem, RenderFailed):
        return None
    return WebMessage(campaign.id, kept.name, subject, _web_html(html, text_body), kept.launched_at)


def archived_message(session: Session, settings: Settings, list_id: int, campaign_id: int) -> WebMessage | None:
    """The campaign as the list's archive shows it; None when it is not there (or no longer renders)."""
    campaign = _in_archive(session, list_id, campaign_id)
    if campaign is None:
        return None
    key = (campaign_id, list_id, campaign.updated_at, campaign.layout_id, settings.base_url)
    found = _kept.get(key)
    if found is None:
        found = _render(session, settings, campaign, neutral_context(settings, campaign, list_id))
        if found is not None:
            _kept.put(key, found)
    return found


def delivered_message(session: Session, settings: Settings, secret: bytes, token: str) -> WebMessage | None:
    """The message of the delivery the view-in-browser TOKEN names, as its recipient got it; None when the token
    is not one of ours."""
    parsed = parse_token(secret, token)
    if parsed is None or parsed.kind != "v":
        return None
    delivery = session.get(Delivery, parsed.ident)
    campaign = session.get(Campaign, delivery.campaign_id) if delivery is not None else None
    if delivery is None or campaign is None:
        return None
    contact = session.get(Contact, delivery.contact_id) if delivery.contact_id is not None else None
    if contact is None:  # erased: nobody's data to show, the archive's rendering
        return _render(session, settings, campaign, neutral_context(settings, campaign, min(campaign.list_ids or [0])))
    sent_at, campaign_id, rcpt = delivery.sent_at, campaign.id or 0, delivery.email
    first, last, attributes, contact_id = contact.first_name, contact.last_name, contact.attributes, contact.id
    try:
        composer = identities.composer(session, campaign, settings, secret, None)
        session.rollback()  # only reads so far: no lock held while the message renders
        subject, html, text_body = composer.web_view(rcpt, first, last, attributes, parsed.ident, contact_id)
    except (TemplateProblem, RenderFailed):
        return None
    return WebMessage(campaign_id, composer.campaign_name, subject, _web_html(html, text_body), sent_at)
