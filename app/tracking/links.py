"""A campaign's links: found in its templates and numbered at launch, then rewritten in every rendered
message to the click route (and the HTML given the open pixel).

Only a link written out in full in the template is tracked (`https://shop.example/sale`); a link built from
variables (`{{ unsubscribe_url }}`, `https://shop.example/?u={{ email }}`) is left as rendered, and so are
bulkmail's own subscriber links (unsubscribe, preference page) wherever they appear."""

import html
import re
from collections.abc import Mapping

from sqlalchemy import select
from sqlmodel import Session, col

from app.db import insert_rows
from app.models import Campaign, CampaignLink
from app.settings import Settings
from app.tracking import modes, tokens

MAX_LINKS = 500  # a campaign's tracked links; past this the rest go out as written
MAX_URL = 2000
_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(https?://[^"'<>\s]+)\2""", re.IGNORECASE)
_TEXT_URL = re.compile(r"""https?://[^\s<>"']+""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_JINJA = ("{{", "{%", "{#")
_TRAILING = ".,;:!?)]}"  # punctuation after a URL in running text is not part of it


def _own(url: str, base_url: str) -> bool:
    """bulkmail's own subscriber and tracking links: never rewritten."""
    base = base_url.rstrip("/")
    return any(url.startswith(f"{base}/{p}/") for p in ("u", "p", "t"))


def _text_urls(text: str) -> list[str]:
    return [m.group(0).rstrip(_TRAILING) for m in _TEXT_URL.finditer(text)]


def found(html_source: str, text_source: str, base_url: str) -> list[str]:
    """The trackable links of a campaign's templates in order of first appearance, each once."""
    urls = [html.unescape(m.group(3)) for m in _HREF.finditer(html_source)]
    urls += _text_urls(text_source)
    out: dict[str, None] = {}
    for url in urls:
        if len(out) >= MAX_LINKS:
            break
        if len(url) <= MAX_URL and not any(j in url for j in _JINJA) and not _own(url, base_url):
            out.setdefault(url)
    return list(out)


def freeze(session: Session, campaign: Campaign, settings: Settings, html_body: str, text_body: str) -> None:
    """At launch: fix the campaign's tracking mode and number the links of its bodies as sent (in their
    layout, MJML compiled). The caller commits."""
    assert campaign.id is not None
    campaign.tracking = modes.effective(campaign, settings)
    session.add(campaign)
    if campaign.tracking == modes.NONE:
        return
    urls = found(html_body, text_body, settings.base_url)
    rows = [{"campaign_id": campaign.id, "position": i, "url": u} for i, u in enumerate(urls, start=1)]
    insert_rows(session, CampaignLink, rows)


def table(session: Session, campaign_id: int) -> dict[int, str]:
    """A campaign's links by position."""
    rows = session.execute(
        select(col(CampaignLink.position), col(CampaignLink.url)).where(col(CampaignLink.campaign_id) == campaign_id)
    ).all()
    return {int(p): str(u) for p, u in rows}


def click_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/t/c/{token}"


def open_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/t/o/{token}"


class Rewriter:
    """Rewrites one campaign's rendered bodies: each known link to its click URL, and the open pixel
    before the HTML's </body>. Anonymous campaigns' URLs name no delivery, so they are the same in every
    message."""

    def __init__(self, campaign_id: int, mode: str, links: Mapping[int, str], base_url: str, secret: bytes) -> None:
        self.campaign_id, self.mode, self.base_url, self.secret = campaign_id, mode, base_url, secret
        self.positions = {url: pos for pos, url in links.items()}

    def _token(self, delivery_id: int, link: int) -> str:
        who = delivery_id if self.mode == modes.CONTACT else None
        return tokens.make(self.secret, self.campaign_id, who, link)

    def html(self, body: str, delivery_id: int) -> str:
        made: dict[int, str] = {}

        def href(m: re.Match[str]) -> str:
            pos = self.positions.get(html.unescape(m.group(3)))
            if pos is None:
                return m.group(0)
            if pos not in made:
                made[pos] = click_url(self.base_url, self._token(delivery_id, pos))
            return f"{m.group(1)}{m.group(2)}{made[pos]}{m.group(2)}"

        body = _HREF.sub(href, body)
        pixel = (
            f'<img src="{open_url(self.base_url, self._token(delivery_id, 0))}" width="1" height="1" alt="" '
            'style="display:block;width:1px;height:1px;border:0">'
        )
        ends = list(_BODY_END.finditer(body))
        if not ends:
            return body + pixel
        at = ends[-1].start()
        return body[:at] + pixel + body[at:]

    def text(self, body: str, delivery_id: int) -> str:
        def url(m: re.Match[str]) -> str:
            whole = m.group(0)
            link = whole.rstrip(_TRAILING)
            pos = self.positions.get(link)
            if pos is None:
                return whole
            return click_url(self.base_url, self._token(delivery_id, pos)) + whole[len(link) :]

        return _TEXT_URL.sub(url, body)


def rewriter(session: Session, campaign: Campaign, settings: Settings, secret: bytes) -> Rewriter | None:
    """The launched campaign's Rewriter; None when it tracks nothing (or is a draft: test sends and
    previews are never tracked)."""
    if campaign.id is None or campaign.tracking not in (modes.ANONYMOUS, modes.CONTACT):
        return None
    return Rewriter(campaign.id, campaign.tracking, table(session, campaign.id), settings.base_url, secret)
