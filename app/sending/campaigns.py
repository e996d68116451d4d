"""Campaign life cycle: check, launch (freeze the audience into the ledger), pause, resume, cancel,
and the test send. The API and the CLI both call these; the worker calls start_due_scheduled.

draft -> scheduled -> sending -> paused -> sending ... -> completed; anything not final -> cancelled."""

from copy import deepcopy as copy_of
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, select, text, update
from sqlmodel import Session, col

from app.addresses import InvalidAddress, normalise
from app.audience import fields as custom_fields
from app.db import is_postgresql
from app.models import Campaign, Contact, ListMember, MailingList, MessageTemplate, Segment, utcnow
from app.models.states import CampaignState
from app.sending import abtest, bodies, guards, identities, launch_due, ledger
from app.sending.render import TemplateProblems, check_templates, contact_context, render_limits
from app.sending.sandbox import Limits
from app.sending.window import Timing, WindowInvalid
from app.settings import Settings
from app.tracking import links as tracked_links

if TYPE_CHECKING:
    from app.audience.segments.audience import Audience

EDITABLE_STATES = CampaignState.EDITABLE
DELETABLE_STATES = (CampaignState.DRAFT, CampaignState.SCHEDULED)  # later ones have a ledger, which is kept
USER_PAUSE = "paused by user"  # the paused_reason of a pause a user asked for; any other is an error
SAMPLE_CONTACTS = 100


class CampaignStateError(ValueError):
    """An action the campaign's state does not allow; the message says which."""


class CampaignInvalid(ValueError):
    """A campaign that cannot be sent; `field` names the offending field. `problems` holds every
    (field, message) found at once (the templates report all their errors); field/detail are the first."""

    def __init__(self, field: str, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        self.field, self.detail = field, message
        self.problems = problems or [(field, message)]
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.problems))


def attribute_keys(session: Session, list_ids: list[int]) -> set[str]:
    """Every attribute key any contact of these lists has (the names templates may use)."""
    if not list_ids:
        return set()
    params = {f"l{i}": lid for i, lid in enumerate(list_ids)}
    in_list = ", ".join(f":{k}" for k in params)
    if is_postgresql(session):
        sql = (
            "SELECT DISTINCT json_object_keys(c.attributes) FROM contact c JOIN list_member m ON m.contact_id = c.id "
            f"WHERE m.list_id IN ({in_list}) AND json_typeof(c.attributes) = 'object'"
        )
    else:
        sql = (
            "SELECT DISTINCT j.key FROM contact c JOIN list_member m ON m.contact_id = c.id, json_each(c.attributes) j "
            f"WHERE m.list_id IN ({in_list}) AND json_type(c.attributes) = 'object'"
        )
    return {str(k) for k in session.execute(text(sql), params).scalars()}


def _samples(session: Session, list_ids: list[int]) -> list[dict[str, Any]]:
    if not list_ids:
        return []
    rows = session.execute(
        select(col(Contact.email), col(Contact.first_name), col(Contact.last_name), col(Contact.attributes))
        .join(ListMember, col(ListMember.contact_id) == Contact.id)
        .where(col(ListMember.list_id).in_(list_ids))
        .limit(SAMPLE_CONTACTS)
    ).all()
    return [contact_context(*r) for r in rows]


AUDIENCE_FIELDS = ("list_ids", "segment_ids", "exclude_list_ids", "exclude_segment_ids")
AUDIENCE_TABLES: tuple[tuple[str, Any, str], ...] = (
    ("list_ids", MailingList, "list"),
    ("exclude_list_ids", MailingList, "list"),
    ("segment_ids", Segment, "segment"),
    ("exclude_segment_ids", Segment, "segment"),
)


def audience_of(campaign: Campaign) -> "Audience":
    from app.audience.segments.audience import Audience

    return Audience(campaign.list_ids, campaign.segment_ids, campaign.exclude_list_ids, campaign.exclude_segment_ids)


def _check_audience(session: Session, campaign: Campaign) -> None:
    for name, model, noun in AUDIENCE_TABLES:
        ids = getattr(campaign, name)
        if ids:
            found = set(session.execute(select(col(model.id)).where(col(model.id).in_(ids))).scalars())
            missing = [i for i in ids if i not in found]
            if missing:
                raise CampaignInvalid(name, f"no such {noun}: {', '.join(map(str, missing))}")


def timing_of(campaign: Campaign) -> Timing:
    """When the campaign's messages may go out; CampaignInvalid names the window's or local time's field."""
    try:
        return Timing.of(campaign.send_window, campaign.local_time)
    except WindowInvalid as exc:
        raise CampaignInvalid(exc.field, str(exc)) from exc


def check_campaign(session: Session, campaign: Campaign, limits: Limits | None = None) -> None:
    """Raise CampaignInvalid (naming the field) unless the campaign could be sent as it is.

    Rendering the samples may take up to the render limits, so it runs after the session's
    transaction has ended: on SQLite that transaction holds the write lock. Call it with nothing
    pending in the session (check a transient copy of changes). A stored campaign changed by someone
    else while it was being checked raises CampaignStateError."""
    for field, value in (("from_address", campaign.from_address), ("reply_to", campaign.reply_to)):
        if value:
            try:
                normalise(value)
            except InvalidAddress as exc:
                raise CampaignInvalid(field, str(exc)) from exc
    if not campaign.subject.strip():
        raise CampaignInvalid("subject", "must not be empty")
    timing_of(campaign)
    if campaign.ab_test and campaign.local_time:
        raise CampaignInvalid(
            "local_time", "an A/B test sends the rest at once when the winner is chosen, not at local time"
        )
    if campaign.ab_test and campaign.id is not None:
        count = len(abtest.variants_of(session, campaign.id))
        if not abtest.MIN_VARIANTS <= count <= abtest.MAX_VARIANTS:
            raise CampaignInvalid(
                "variants", f"an A/B test has {abtest.MIN_VARIANTS} to {abtest.MAX_VARIANTS} variants"
            )
    _check_audience(session, campaign)
    sending = identities.campaign_problems(session, campaign)
    if sending:
        raise CampaignInvalid(sending[0][0], sending[0][1], sending)
    # the names templates may use: the custom fields (a contact without a value renders it empty) and any
    # attribute a contact of the audience has
    keys = attribute_keys(session, campaign.list_ids) | set(custom_fields.definitions(session))
    samples = _samples(session, campaign.list_ids)
    stored = inspect(campaign).persistent
    seen = campaign.updated_at
    templates = (campaign.subject, campaign.html_template, campaign.text_template, campaign.template_language)
    try:
        layout = bodies.layout_of(session, campaign.layout_id)
    except TemplateProblems as exc:
        raise CampaignInvalid(exc.field, exc.detail) from exc
    layout = None if layout is None else MessageTemplate.model_validate(layout.model_dump())  # kept past the rollback
    if session.new or session.dirty or session.deleted:  # a caller's bug: the rollback would lose them
        raise RuntimeError("check_campaign needs a session without unsaved changes")
    session.rollback()  # only reads so far; the lock must not be held while templates run (or MJML compiles)
    limits = limits or Limits()
    try:
        assembled = bodies.assemble(*templates, layout, limits)
        try:
            check_templates(assembled.subject, assembled.html, assembled.text, keys, samples, limits)
        except TemplateProblems as exc:
            raise TemplateProblems([assembled.locate(p) for p in exc.problems]) from exc
    except TemplateProblems as exc:
        problems = [(p.field, p.detail) for p in exc.problems]
        raise CampaignInvalid(exc.field, exc.detail, problems) from exc
    if stored and campaign.updated_at != seen:  # reloads it, in a new transaction
        raise CampaignStateError("the campaign was changed while it was being checked; try again")


def status(session: Session, campaign_id: int, now: datetime) -> tuple[Campaign, "ledger.Progress"]:
    """A campaign and its ledger's progress (LookupError when there is no such campaign)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(f"no campaign {campaign_id}")
    return campaign, ledger.progress(session, campaign, now)


def percent_done(done: int, total: int, state: str) -> float:
    """How far the campaign is, as the API and the pages show it; a completed empty campaign is done."""
    return round(100.0 * done / total, 1) if total else (100.0 if state == "completed" else 0.0)


def check_editable(campaign: Campaign, lists_change: bool) -> None:
    """Raise unless the campaign may be edited now; a paused one keeps the audience frozen at launch."""
    if campaign.state not in EDITABLE_STATES:
        raise CampaignStateError(f"a {campaign.state} campaign cannot be edited (pause it first)")
    if campaign.state == "paused" and lists_change:
        raise CampaignInvalid("list_ids", "the audience was frozen when sending started; lists cannot change now")


# what a launch freezes into the ledger: tracking into its links, the window and local time into each row's due time
FIXED_AT_LAUNCH = ("tracking", "send_window", "local_time")


def check_fixed_at_launch(campaign: Campaign, changes: dict[str, Any]) -> None:
    """Raise CampaignInvalid when the changes touch what the launch fixed (a paused campaign keeps them)."""
    if campaign.launched_at is None:
        return
    for field in FIXED_AT_LAUNCH:
        # tracking "as the settings say" (empty or null) is a change too once the launch fixed a mode
        fixed = getattr(campaign, field)
        if field in changes and (changes[field] or None) != (fixed or None):
            at = f" at '{fixed}'" if isinstance(fixed, str) and fixed else ""
            raise CampaignInvalid(field, f"{field} was fixed{at} when sending started; it cannot change now")


def edit(session: Session, campaign: Campaign, changes: dict[str, Any], limits: Limits | None = None) -> Campaign:
    """Apply the changes to a stored campaign after checking it as it would be; the caller commits.
    Call it with nothing pending in the session (see check_campaign)."""
    check_editable(campaign, any(f in changes for f in AUDIENCE_FIELDS))
    check_fixed_at_launch(campaign, changes)
    seen = campaign.updated_at
    # the check runs on a copy with the changes, after the session's transaction has ended
    check_campaign(session, Campaign.model_validate({**campaign.model_dump(), **changes}), limits)
    if campaign.updated_at != seen:  # read again, in a new transaction
        raise CampaignStateError("the campaign was changed while it was being checked; try again")
    check_editable(campaign, any(f in changes for f in AUDIENCE_FIELDS))
    check_fixed_at_launch(campaign, changes)
    for key, value in changes.items():
        setattr(campaign, key, value)
    campaign.updated_at = utcnow()
    session.add(campaign)
    return campaign


# what a copy takes over: the message and where it goes, never its state, schedule, ledger or guard history
COPIED = (
    "from_name",
    "from_address",
    "reply_to",
    "subject",
    "html_template",
    "text_template",
    "template_language",
    "layout_id",
    *AUDIENCE_FIELDS,
    "identity_id",
    "relay_ids",
    "headers",
    "archived",
    "tracking",
    "send_window",
    "local_time",
)


def duplicate(session: Session, campaign: Campaign, name: str | None = None) -> Campaign:
    """A new draft with the campaign's message, audience (lists and segments, less exclusions), identity,
    relays, headers and tracking (any state may be copied); the caller commits."""
    # list and dict values are copied, not shared with the original
    copied = {k: copy_of(getattr(campaign, k)) for k in COPIED}
    copy = Campaign(name=(name or f"{campaign.name} (copy)")[:200], **copied)
    session.add(copy)
    session.flush()
    return copy


def delete(session: Session, campaign: Campaign) -> None:
    """Delete a campaign that never sent; the caller commits."""
    if campaign.state not in DELETABLE_STATES:
        raise CampaignStateError(f"a {campaign.state} campaign has a ledger and is kept; cancel it instead")
    session.delete(campaign)


def launch(session: Session, campaign: Campaign, settings: Settings, now: datetime) -> Campaign:
    """Check and launch a draft: at once, or at its send time. The caller commits."""
    if campaign.state != CampaignState.DRAFT:
        raise CampaignStateError(f"only a draft can be launched; this campaign is {campaign.state}")
    if not (campaign.list_ids or campaign.segment_ids):
        raise CampaignInvalid("list_ids", "choose at least one list or segment")
    check_campaign(session, campaign, render_limits(settings))
    if campaign.state != CampaignState.DRAFT:  # launched elsewhere while it was being checked
        raise CampaignStateError(f"only a draft can be launched; this campaign is {campaign.state}")
    if campaign.send_at is not None and campaign.send_at > now:
        campaign.state = CampaignState.SCHEDULED
        campaign.updated_at = now
        return campaign
    return start_sending(session, campaign, settings, now)


def start_sending(session: Session, campaign: Campaign, settings: Settings, now: datetime) -> Campaign:
    """Freeze the compiled audience into the ledger and hand the campaign to the workers."""
    from app.audience.segments.audience import freeze

    assert campaign.id is not None
    due = launch_due.first_due(session, timing_of(campaign), now)
    campaign.audience_counts = freeze(session, campaign.id, audience_of(campaign), settings, now, due)
    launch_due.done(session, due)
    abtest.split(session, campaign)
    # one link table across every variant's bodies: a click names its delivery, the delivery its variant
    versions = [abtest.as_campaign(campaign, v) for v in abtest.variants_of(session, campaign.id)] or [campaign]
    sent = [bodies.of_campaign(session, c, render_limits(settings)) for c in versions]
    html, plain = "\n".join(b.html for b in sent), "\n".join(b.text for b in sent)
    tracked_links.freeze(session, campaign, settings, html, plain)
    campaign.state = CampaignState.SENDING
    campaign.launched_at = now
    campaign.updated_at = now
    session.add(campaign)
    session.flush()
    ledger.complete_finished(session, now, {campaign.id})  # an empty audience is done at once
    session.refresh(campaign)
    return campaign


def start_due_scheduled(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Start scheduled campaigns whose send time has come; the audience is compiled now, not when
    it was scheduled, so later sign-ups are in and later unsubscribes are out. The caller commits."""
    started = []
    due = session.execute(
        select(col(Campaign.id)).where(col(Campaign.state) == CampaignState.SCHEDULED, col(Campaign.send_at) <= now)
    ).scalars()
    for campaign_id in list(due):
        # only one process wins the transition
        won = session.execute(
            update(Campaign)
            .where(col(Campaign.id) == campaign_id, col(Campaign.state) == CampaignState.SCHEDULED)
            .values(state=CampaignState.SENDING, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult; Session.execute is typed as Result
        if won:
            campaign = session.get(Campaign, campaign_id)
            assert campaign is not None
            session.refresh(campaign)
            start_sending(session, campaign, settings, now)
            started.append(campaign_id)
    return started


def pause(campaign: Campaign, now: datetime) -> Campaign:
    if campaign.state != CampaignState.SENDING:
        raise CampaignStateError(f"only a sending campaign can be paused; this campaign is {campaign.state}")
    campaign.state, campaign.paused_reason, campaign.updated_at = CampaignState.PAUSED, USER_PAUSE, now
    return campaign


def resume(
    session: Session, campaign: Campaign, settings: Settings, now: datetime, override_guard: bool = False
) -> Campaign:
    """Continue from the ledger: rows already final are never sent again. While a complaint or bounce
    rate is past its pause threshold, only with OVERRIDE_GUARD (see app.sending.guards)."""
    if campaign.state != CampaignState.PAUSED:
        raise CampaignStateError(f"only a paused campaign can be resumed; this campaign is {campaign.state}")
    check_campaign(session, campaign, render_limits(settings))  # it may have been edited while paused
    if campaign.state != CampaignState.PAUSED:
        raise CampaignStateError(f"only a paused campaign can be resumed; this campaign is {campaign.state}")
    refusal = guards.resume_refusal(session, settings, campaign, now, override_guard)
    if refusal is not None:
        raise CampaignStateError(refusal)
    campaign.state, campaign.paused_reason, campaign.updated_at = CampaignState.SENDING, None, now
    session.add(campaign)
    session.flush()
    ledger.complete_finished(session, now, {campaign.id} if campaign.id else set())
    session.refresh(campaign)
    return campaign


def cancel(session: Session, campaign: Campaign, now: datetime) -> int:
    """Cancel the campaign and every ledger row not yet final; returns how many rows were cancelled."""
    if campaign.state in (CampaignState.COMPLETED, CampaignState.CANCELLED):
        raise CampaignStateError(f"the campaign is already {campaign.state}")
    campaign.state, campaign.updated_at, campaign.completed_at = CampaignState.CANCELLED, now, now
    session.add(campaign)
    assert campaign.id is not None
    return ledger.cancel_remaining(session, campaign.id, now)
