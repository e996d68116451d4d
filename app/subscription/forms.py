"""A list's signup settings: public or private, single or double opt-in, the custom fields its form asks
for, the versioned consent text, the confirmation and welcome mails; and the HTML snippet that embeds the
form in another site. The pages and the API change them through `save` alone."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.audience import fields as custom_fields
from app.i18n import gettext as _
from app.models import ConsentText, ListMember, MailingList, SignupForm, utcnow
from app.models.states import MemberStatus
from app.models.types import NAME_LENGTH
from app.sending.render import CampaignTemplates, RenderFailed, TemplateProblem
from app.sending.sandbox import Limits

CONSENT_MAX = 10_000
TEMPLATE_MAX = 20_000
# the variables the confirmation and welcome templates may use, besides the contact's fields
MAIL_VARIABLES = ("email", "first_name", "last_name", "list_name", "confirm_url", "expires")
HONEYPOT = "website_url"  # a field people never see; a bot that fills every input fills it


class SignupInvalid(ValueError):
    """A setting that cannot be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def default_confirm_subject() -> str:
    return _("Please confirm your subscription to {{ list_name }}")


def default_confirm_text() -> str:
    return _(
        "Hello,\n\nplease confirm that you want to receive {{ list_name }} at {{ email }} by opening this link "
        "and pressing the button:\n\n  {{ confirm_url }}\n\nThe link works until {{ expires }}. If you did not ask "
        "for this, ignore this message: you will not hear from us again, and your address is deleted.\n"
    )


def default_welcome_subject() -> str:
    return _("Welcome to {{ list_name }}")


def default_welcome_text() -> str:
    return _("Welcome to {{ list_name }}! Your subscription is confirmed.\n")


def settings_of(session: Session, list_id: int) -> SignupForm:
    """The list's settings; a list that never had any gets the defaults (private, double opt-in)."""
    return session.get(SignupForm, list_id) or SignupForm(list_id=list_id)


def consent_text(session: Session, list_id: int, version: int | None = None) -> ConsentText | None:
    """The given version of the list's consent text, or the newest; None when it has none."""
    query = select(ConsentText).where(col(ConsentText.list_id) == list_id)
    if version is not None:
        query = query.where(col(ConsentText.version) == version)
    return session.execute(query.order_by(col(ConsentText.version).desc()).limit(1)).scalars().first()


def version_label(text: ConsentText | None) -> str | None:
    """How the consent ledger names a version (its row also names the list)."""
    return None if text is None else f"v{text.version}"


def unconfirmed_count(session: Session, list_id: int) -> int:
    query = select(func.count()).where(
        col(ListMember.list_id) == list_id, col(ListMember.status) == MemberStatus.UNCONFIRMED
    )
    return int(session.execute(query).scalar_one())


@dataclass(frozen=True)
class Changes:
    """What to change; None keeps the current value."""

    public: bool | None = None
    double_opt_in: bool | None = None
    fields: Sequence[str] | None = None
    consent_text: str | None = None
    confirm_subject: str | None = None
    confirm_text: str | None = None
    welcome_subject: str | None = None
    welcome_text: str | None = None


def _sample_context(field_names: Sequence[str]) -> dict[str, Any]:
    ctx: dict[str, Any] = dict.fromkeys(field_names, "")
    return ctx | {
        "email": "someone@example.com",
        "first_name": "Ann",
        "last_name": "Example",
        "attributes": {},
        "list_name": "Newsletter",
        "confirm_url": "https://example.com/s/confirm/x",
        "expires": "2026-01-08 12:00 UTC",
    }


def check_mail_template(field: str, subject: str, text: str, field_names: Sequence[str]) -> None:
    """Raise SignupInvalid (naming FIELD) unless the subject and text parse and render for a sample contact."""
    try:
        templates = CampaignTemplates.compile(subject, "", text, strict=True)
        templates.render(_sample_context(field_names), Limits(), ("subject", "text"))
    except TemplateProblem as exc:
        which = f"{field}_subject" if exc.field == "subject" else f"{field}_text"
        raise SignupInvalid(which, exc.detail) from exc
    except RenderFailed as exc:
        which = f"{field}_subject" if exc.part == "subject" else f"{field}_text"
        known = ", ".join((*MAIL_VARIABLES, *field_names))
        raise SignupInvalid(which, _("%(why)s (known: %(known)s)", why=str(exc), known=known)) from exc


def _check_lengths(changes: Changes) -> None:
    for name in ("confirm_subject", "welcome_subject"):
        value = getattr(changes, name)
        if value is not None and len(value) > NAME_LENGTH:
            raise SignupInvalid(name, _("at most %(n)s characters", n=NAME_LENGTH))
    for name in ("confirm_text", "welcome_text"):
        value = getattr(changes, name)
        if value is not None and len(value) > TEMPLATE_MAX:
            raise SignupInvalid(name, _("at most %(n)s characters", n=TEMPLATE_MAX))
    if changes.consent_text is not None and len(changes.consent_text) > CONSENT_MAX:
        raise SignupInvalid("consent_text", _("at most %(n)s characters", n=CONSENT_MAX))


def save(session: Session, ml: MailingList, changes: Changes) -> SignupForm:
    """Apply CHANGES to the list's settings; a consent text that differs from the newest version becomes a
    new version. Raises SignupInvalid naming the field; the caller commits."""
    assert ml.id is not None  # a stored list
    _check_lengths(changes)
    form = settings_of(session, ml.id)
    defined = custom_fields.definitions(session)
    if changes.fields is not None:
        chosen = list(dict.fromkeys(f.strip() for f in changes.fields if f.strip()))
        unknown = [f for f in chosen if f not in defined]
        if unknown:
            raise SignupInvalid("fields", _("no custom field named %(names)s", names=", ".join(unknown)))
        form.fields = chosen
    names = list(defined)
    for prefix in ("confirm", "welcome"):
        subject = getattr(changes, f"{prefix}_subject")
        text = getattr(changes, f"{prefix}_text")
        if subject is None and text is None:
            continue
        subject = (subject if subject is not None else getattr(form, f"{prefix}_subject")).strip()
        text = text if text is not None else getattr(form, f"{prefix}_text")
        if prefix == "welcome" and bool(subject) != bool(text.strip()):
            missing = "welcome_text" if subject else "welcome_subject"
            raise SignupInvalid(missing, _("a welcome mail needs a subject and a text (leave both empty for none)"))
        if prefix == "confirm" and text.strip() and "confirm_url" not in text:
            raise SignupInvalid("confirm_text", _("the text must contain {{ confirm_url }}, the link that confirms"))
        if subject or text.strip():
            check_mail_template(prefix, subject or "x", text, names)
        setattr(form, f"{prefix}_subject", subject)
        setattr(form, f"{prefix}_text", text)
    if changes.public is not None:
        form.public = changes.public
    if changes.double_opt_in is not None:
        form.double_opt_in = changes.double_opt_in
    if changes.consent_text is not None:
        wording = changes.consent_text.strip()
        newest = consent_text(session, ml.id)
        if wording and (newest is None or newest.text != wording):
            version = 1 if newest is None else newest.version + 1
            session.add(ConsentText(list_id=ml.id, version=version, text=wording, created_at=utcnow()))
        elif not wording and newest is not None:
            raise SignupInvalid("consent_text", _("a consent text cannot be removed, only replaced by a new version"))
    form.updated_at = utcnow()
    session.add(form)
    session.flush()
    return form


def form_url(base_url: str, list_id: int) -> str:
    return f"{base_url.rstrip('/')}/s/{list_id}"


def snippet(
    base_url: str,
    list_id: int,
    field_defs: Mapping[str, custom_fields.Definition],
    chosen: Sequence[str],
    consent: ConsentText | None,
) -> str:
    """A plain HTML form for another site: it posts to the hosted form, which answers with its own page."""
    lines = [
        f'<form method="post" action="{escape(form_url(base_url, list_id))}" accept-charset="utf-8">',
        f'  <label>{escape(_("E-mail address"))} <input type="email" name="email" required></label>',
        f'  <label>{escape(_("First name"))} <input name="first_name"></label>',
    ]
    for name in chosen:
        field = field_defs.get(name)
        if field is not None:
            required = " required" if field.required else ""
            lines.append(f'  <label>{escape(field.label)} <input name="{escape(name)}"{required}></label>')
    if consent is not None:
        lines.append(f'  <input type="hidden" name="consent_version" value="{consent.version}">')
        lines.append(f"  <p>{escape(consent.text)}</p>")
    lines.append(
        f'  <div style="position:absolute;left:-10000px" aria-hidden="true"><input name="{HONEYPOT}" '
        'tabindex="-1" autocomplete="off"></div>'
    )
    lines.append(f'  <button type="submit">{escape(_("Subscribe"))}</button>')
    lines.append("</form>")
    return "\n".join(lines)


@dataclass(frozen=True)
class Overview:
    """A list's signup as the list page and the API show it."""

    form: SignupForm
    consent: ConsentText | None
    fields: list[custom_fields.Definition]  # every custom field there is, for the marketer to choose from
    chosen: list[custom_fields.Definition]  # those the form asks for
    unconfirmed: int
    form_url: str
    snippet: str


def overview(session: Session, base_url: str, list_id: int) -> Overview:
    form = settings_of(session, list_id)
    defined = custom_fields.definitions(session)
    text = consent_text(session, list_id)
    return Overview(
        form=form,
        consent=text,
        fields=list(defined.values()),
        chosen=[defined[n] for n in form.fields if n in defined],
        unconfirmed=unconfirmed_count(session, list_id),
        form_url=form_url(base_url, list_id),
        snippet=snippet(base_url, list_id, defined, form.fields, text),
    )
