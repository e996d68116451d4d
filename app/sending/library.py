"""The template library: saved templates a campaign starts from, and layouts that wrap a campaign's bodies in
their `{{ content }}` slot (app.sending.bodies). Each is checked when saved: Jinja2 that parses, MJML that
compiles. A layout that a campaign still to send uses cannot be changed (the campaign was checked with it), and
one that any campaign names cannot be removed."""

from typing import Any

from jinja2 import TemplateSyntaxError
from sqlalchemy import select
from sqlmodel import Session, col

from app.db import save_given
from app.keyset import after_name_id, fetch
from app.models import Campaign, MessageTemplate, utcnow
from app.models.states import CampaignState
from app.sending.bodies import SLOT, assemble
from app.sending.library_schemas import TemplateCreate, TemplatePublic
from app.sending.refused import Refused
from app.sending.render import TemplateProblems, field_name, render_limits, syntax_env
from app.settings import Settings

# campaigns that may still render: their layout must stay as they were checked with
STILL_TO_SEND = (CampaignState.SCHEDULED, CampaignState.SENDING, CampaignState.PAUSED)
CHOICES = 200  # saved templates and layouts a compose form offers (the library page pages through all)


def public(row: MessageTemplate) -> TemplatePublic:
    return TemplatePublic.model_validate(row, from_attributes=True)


def ordered(cursor: str | None, kind: str | None = None) -> Any:
    query = select(MessageTemplate)
    if kind:
        query = query.where(col(MessageTemplate.kind) == kind)
    return after_name_id(query, col(MessageTemplate.name), col(MessageTemplate.id), cursor)


def templates_page(session: Session, limit: int, cursor: str | None) -> tuple[list[MessageTemplate], str | None]:
    return fetch(session, ordered(cursor), limit, key=lambda r: (r.name, r.id))


def choices(session: Session, kind: str) -> list[tuple[int, str]]:
    """(id, name) of the first CHOICES templates or layouts by name, for a compose form's menu."""
    return [(r.id, r.name) for r in session.execute(ordered(None, kind).limit(CHOICES)).scalars()]


def starting_values(session: Session, template_id: int) -> dict[str, Any]:
    """What a new campaign takes from a saved template (nothing when there is no such template)."""
    row = session.get(MessageTemplate, template_id)
    if row is None or row.kind != "template":
        return {}
    return {k: getattr(row, k) for k in ("subject", "html_template", "text_template", "template_language")}


def _check(settings: Settings, row: MessageTemplate) -> None:
    """Refused (naming the field and line) unless the saved parts parse and an MJML one compiles."""
    if not row.html_template.strip() and not row.text_template.strip():
        raise Refused("html_template", "give it an HTML or a text part")
    if row.kind == "layout" and row.html_template.strip() and not SLOT.search(row.html_template):
        raise Refused("html_template", "a layout's HTML needs a {{ content }} slot where the body goes")
    for part, source in (("subject", row.subject), ("html", row.html_template), ("text", row.text_template)):
        try:
            syntax_env().parse(source)
        except TemplateSyntaxError as exc:
            where = f"line {exc.lineno}: " if exc.lineno else ""
            raise Refused(field_name(part), where + (exc.message or "syntax error")) from None
    if row.template_language == "mjml" and row.html_template.strip():
        try:  # a layout compiles with an empty body in its slot
            assemble("", SLOT.sub("", row.html_template), "", "mjml", None, render_limits(settings))
        except TemplateProblems as exc:
            raise Refused("html_template", exc.detail) from None


def _unique_name(session: Session, name: str | None, row: MessageTemplate | None) -> None:
    if name is None:
        return
    query = select(col(MessageTemplate.id)).where(col(MessageTemplate.name) == name)
    taken = session.execute(query).scalars().first()
    if taken is not None and (row is None or taken != row.id):
        raise Refused("name", f"a template named {name!r} exists already", 409)


def _campaign_using(session: Session, row: MessageTemplate, states: tuple[str, ...] | None) -> Campaign | None:
    query = select(Campaign).where(col(Campaign.layout_id) == row.id)
    if states is not None:
        query = query.where(col(Campaign.state).in_(states))
    return session.execute(query.limit(1)).scalars().first()


def create(session: Session, settings: Settings, body: TemplateCreate) -> MessageTemplate:
    _unique_name(session, body.name, None)
    row = MessageTemplate(**body.model_dump())
    _check(settings, row)
    session.add(row)
    session.flush()
    return row


def change(session: Session, settings: Settings, row: MessageTemplate, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if value is None:
            raise Refused(key, "may not be null; leave it out to keep the current value")
    _unique_name(session, changes.get("name"), row)
    using = _campaign_using(session, row, STILL_TO_SEND) if set(changes) - {"name"} else None
    if using is not None:
        raise Refused(
            "html_template", f"campaign {using.name!r} ({using.state}) is still to send with this layout", 409
        )
    checked = MessageTemplate.model_validate({**row.model_dump(), **changes})
    _check(settings, checked)
    save_given(session, row, **changes, updated_at=utcnow())


def remove(session: Session, row: MessageTemplate) -> None:
    """Refused while a campaign names it as its layout (a sent one too: it shows what was sent)."""
    using = _campaign_using(session, row, None)
    if using is not None:
        raise Refused("template_id", f"campaign {using.name!r} uses this layout", 409)
    session.delete(row)
