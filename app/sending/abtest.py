"""A/B tests: a campaign's variants, the test share split between them at launch, the winner picked after
the waiting time (or chosen by a marketer) and sent to the rest, and each variant's figures.

At launch the whole audience is frozen into the ledger as for any campaign (one INSERT ... SELECT); then a
random test share of the rows gets a variant number each (balanced: the shuffled rows take 1, 2, ... k in
turn) and every other row is parked: `waiting` with no due time, which no claim takes and which keeps the
campaign from completing. The winner releases the parked rows with its number. Each row is thus frozen
once, under the ledger's unique (campaign, address) index: nobody gets two variants.

Tracked links are numbered once per campaign across every variant's bodies (app.tracking.links.freeze over
all of them), so a click names its delivery and the delivery names its variant."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select, text, update
from sqlmodel import Session, col

from app.models import Bounce, Campaign, CampaignVariant, Delivery, TrackingHit, utcnow
from app.models.states import BounceKind, CampaignState, DeliveryState
from app.tracking import modes

if TYPE_CHECKING:
    from app.sending.compose import Composer
    from app.sending.ledger import Claimed
    from app.sending.window import Timing

MIN_VARIANTS, MAX_VARIANTS = 2, 5
PICKS = ("clicks", "opens", "bounces", "manual")  # bounces: the lowest bounce + complaint rate (no tracking)
VARIANT_FIELDS = ("subject", "from_name", "html_template", "text_template")
Z_95 = 1.96  # a two-sided two-proportion z-test at 95 %


class TestInvalid(ValueError):
    """An A/B test that cannot run; `field` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.detail = field, message
        super().__init__(f"{field}: {message}")


def check(test: dict[str, Any] | None, variants: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The test settings as stored, or TestInvalid naming the field (ab_test.percent, variants[1].subject ...)."""
    if test is None:
        if variants:
            raise TestInvalid("ab_test", "variants need an A/B test (its percent, waiting time and pick)")
        return None
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        raise TestInvalid("variants", f"an A/B test has {MIN_VARIANTS} to {MAX_VARIANTS} variants")
    percent, wait, pick = test.get("percent"), test.get("wait_minutes"), test.get("pick", "clicks")
    if not isinstance(percent, int) or isinstance(percent, bool) or not 1 <= percent <= 100:
        raise TestInvalid("ab_test.percent", "a whole number of percent from 1 to 100")
    if not isinstance(wait, int) or isinstance(wait, bool) or not 0 <= wait <= 60 * 24 * 30:
        raise TestInvalid("ab_test.wait_minutes", "a whole number of minutes from 0 to 43200 (30 days)")
    if pick not in PICKS:
        raise TestInvalid("ab_test.pick", f"one of {', '.join(PICKS)}")
    for i, v in enumerate(variants):
        unknown = set(v) - set(VARIANT_FIELDS)
        if unknown:
            raise TestInvalid(f"variants[{i}].{sorted(unknown)[0]}", "not a variant field")
        if not any(v.get(f) for f in VARIANT_FIELDS):
            raise TestInvalid(f"variants[{i}]", "a variant changes the subject, from name or a body")
        if v.get("subject") is not None and not str(v["subject"]).strip():
            raise TestInvalid(f"variants[{i}].subject", "must not be empty")
    return {"percent": percent, "wait_minutes": wait, "pick": pick}


def variants_of(session: Session, campaign_id: int) -> list[CampaignVariant]:
    return list(
        session.execute(
            select(CampaignVariant)
            .where(col(CampaignVariant.campaign_id) == campaign_id)
            .order_by(col(CampaignVariant.number))
        ).scalars()
    )


def set_variants(session: Session, campaign: Campaign, variants: list[dict[str, Any]]) -> None:
    """Replace a draft's variants (numbered 1, 2, ... in the given order). The caller commits."""
    assert campaign.id is not None
    for old in variants_of(session, campaign.id):
        session.delete(old)
    session.flush()
    for number, v in enumerate(variants, start=1):
        session.add(CampaignVariant(campaign_id=campaign.id, number=number, **{f: v.get(f) for f in VARIANT_FIELDS}))


def as_campaign(campaign: Campaign, variant: CampaignVariant) -> Campaign:
    """The campaign as the variant sends it (a transient copy, never added to the session)."""
    changed = {f: getattr(variant, f) for f in VARIANT_FIELDS if getattr(variant, f) is not None}
    return Campaign.model_validate({**campaign.model_dump(), **changed})


def split(session: Session, campaign: Campaign) -> None:
    """Right after the launch froze the ledger: give a random test share of the rows a variant each (balanced
    between the variants) and park the rest until the winner. No-op for a campaign without a test."""
    if not campaign.ab_test or campaign.id is None:
        return
    k = len(variants_of(session, campaign.id))
    total = session.execute(select(func.count()).where(col(Delivery.campaign_id) == campaign.id)).scalar_one()
    tested = math.ceil(total * int(campaign.ab_test["percent"]) / 100)
    session.execute(
        text(
            "UPDATE delivery SET variant = p.v FROM (SELECT id, (rn - 1) % :k + 1 AS v FROM (SELECT id, "
            "row_number() OVER (ORDER BY random()) AS rn FROM delivery WHERE campaign_id = :c) AS s WHERE rn <= :n) "
            "AS p WHERE delivery.id = p.id"
        ),
        {"k": k, "c": campaign.id, "n": tested},
    )
    session.execute(
        update(Delivery)
        .where(col(Delivery.campaign_id) == campaign.id, col(Delivery.variant).is_(None))
        .values(state=DeliveryState.WAITING, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )


class Variants:
    """A tested campaign's Composers by variant number: each row is composed with its own."""

    def __init__(self, by_number: "dict[int, Composer]") -> None:
        self.by_number = by_number
        self.relay_ids = next(iter(by_number.values())).relay_ids  # the campaign's, the same for every variant

    def compose_row(self, row: "Claimed") -> Any:
        return self.by_number[row.variant or min(self.by_number)].compose_row(row)


@dataclass(frozen=True)
class Figures:
    number: int
    sent: int
    opened: int
    clicked: int
    bounced: int  # bounces and complaints

    def rate(self, pick: str) -> float:
        hits = {"clicks": self.clicked, "opens": self.opened, "bounces": self.bounced}.get(pick, self.clicked)
        return hits / self.sent if self.sent else 0.0


def figures(session: Session, campaign_id: int) -> list[Figures]:
    """Each variant's sent messages, and the deliveries a person opened, clicked (people's settled hits only,
    as app.tracking.engagement counts them), that bounced or complained."""
    numbers = [v.number for v in variants_of(session, campaign_id)]
    in_test = and_(col(Delivery.campaign_id) == campaign_id, col(Delivery.variant).is_not(None))
    sent = dict(
        session.execute(
            select(col(Delivery.variant), func.count())
            .where(in_test, col(Delivery.sent_at).is_not(None))
            .group_by(col(Delivery.variant))
        )
        .tuples()
        .all()
    )

    def hits(clicks: bool) -> dict[int, int]:
        where = [in_test, col(TrackingHit.machine).is_(False)]
        if clicks:
            where.append(col(TrackingHit.link) > 0)
        return dict(
            session.execute(
                select(col(Delivery.variant), func.count(func.distinct(col(Delivery.id))))
                .join(TrackingHit, col(TrackingHit.delivery_id) == col(Delivery.id))
                .where(*where)
                .group_by(col(Delivery.variant))
            )
            .tuples()
            .all()
        )

    opened, clicked = hits(False), hits(True)
    bounced = dict(
        session.execute(
            select(col(Delivery.variant), func.count(func.distinct(col(Delivery.id))))
            .join(Bounce, col(Bounce.delivery_id) == col(Delivery.id))
            .where(in_test, col(Bounce.kind).in_((BounceKind.BOUNCE, BounceKind.COMPLAINT)))
            .group_by(col(Delivery.variant))
        )
        .tuples()
        .all()
    )
    return [Figures(n, sent.get(n, 0), opened.get(n, 0), clicked.get(n, 0), bounced.get(n, 0)) for n in numbers]


def z_score(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float | None:
    """The two-proportion z statistic of A's rate against B's (pooled); None when it cannot be computed."""
    if not n_a or not n_b:
        return None
    pooled = (hits_a + hits_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return None if spread == 0 else (hits_a / n_a - hits_b / n_b) / spread


def pick_of(campaign: Campaign) -> str:
    """What the test compares: its pick, or the bounce rate when the launch fixed no per-contact tracking."""
    pick = str((campaign.ab_test or {}).get("pick", "clicks"))
    if pick in ("clicks", "opens") and campaign.tracking != modes.CONTACT:
        return "bounces"
    return pick


def best(figs: list[Figures], pick: str) -> Figures:
    """The leading variant: the highest click or open rate, the lowest bounce rate (ties: the lower number)."""
    if pick == "bounces":
        return min(figs, key=lambda f: (f.rate(pick), f.number))
    return max(figs, key=lambda f: (f.rate(pick), -f.number))


def significance(figs: list[Figures], pick: str) -> dict[str, Any]:
    """The leader against the runner-up: the z statistic and a note saying whether the difference is
    significant at 95 %."""
    if len(figs) < MIN_VARIANTS:
        return {"z": None, "significant": False, "note": "no variants"}
    lead = best(figs, pick)
    rest = [f for f in figs if f.number != lead.number]
    second = best(rest, pick)
    hits = {"clicks": "clicked", "opens": "opened", "bounces": "bounced"}[pick if pick != "manual" else "clicks"]
    z = z_score(getattr(lead, hits), lead.sent, getattr(second, hits), second.sent)
    significant = z is not None and abs(z) >= Z_95
    note = f"variant {lead.number} leads variant {second.number} by {pick}: " + (
        "significant at 95 % (two-proportion z-test)" if significant else "not significant (two-proportion z-test)"
    )
    return {"z": None if z is None else round(z, 2), "significant": significant, "note": note}


def choose(session: Session, campaign: Campaign, number: int, timing: "Timing", now: datetime) -> int:
    """Make NUMBER the winner and release the parked rows with it; returns how many. ValueError when the
    campaign has no such variant or its winner was chosen already. The caller commits."""
    assert campaign.id is not None
    if not campaign.ab_test:
        raise TestInvalid("variant", "this campaign has no A/B test")
    if campaign.ab_winner is not None:
        raise TestInvalid("variant", f"the winner was chosen already: variant {campaign.ab_winner}")
    if number not in {v.number for v in variants_of(session, campaign.id)}:
        raise TestInvalid("variant", f"no variant {number}")
    won = session.execute(
        update(Campaign)
        .where(col(Campaign.id) == campaign.id, col(Campaign.ab_winner).is_(None))
        .values(ab_winner=number, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult; Session.execute is typed as Result
    if not won:
        raise TestInvalid("variant", "the winner was chosen already")
    due = timing.first_due(now)
    released = session.execute(
        update(Delivery)
        .where(
            col(Delivery.campaign_id) == campaign.id,
            col(Delivery.variant).is_(None),
            col(Delivery.state) == DeliveryState.WAITING,
            col(Delivery.next_attempt_at).is_(None),
        )
        .values(
            variant=number,
            state=DeliveryState.WAITING if due > now else DeliveryState.QUEUED,
            next_attempt_at=due,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]  # as above
    session.refresh(campaign)
    return int(released or 0)


def decide_due(session: Session, now: datetime) -> dict[int, int]:
    """The scheduler's job: for each sending campaign whose test has waited its time and is not left to a
    marketer, pick the leading variant and send it to the rest. Returns campaign id -> the winner."""
    from app.sending.campaigns import timing_of

    out: dict[int, int] = {}
    waiting = session.execute(
        select(Campaign).where(
            col(Campaign.state) == CampaignState.SENDING,
            col(Campaign.ab_test).is_not(None),
            col(Campaign.ab_winner).is_(None),
        )
    ).scalars()
    for campaign in list(waiting):
        test = campaign.ab_test or {}
        if test.get("pick") == "manual" or campaign.launched_at is None or campaign.id is None:
            continue
        if campaign.launched_at + timedelta(minutes=int(test.get("wait_minutes", 0))) > now:
            continue
        winner = best(figures(session, campaign.id), pick_of(campaign)).number
        choose(session, campaign, winner, timing_of(campaign), now)
        out[campaign.id] = winner
    return out


def configure(
    session: Session, campaign: Campaign, test: dict[str, Any] | None, variants: list[dict[str, Any]]
) -> None:
    """Set (or, with no test, remove) a draft's A/B test and variants, each variant's templates checked as the
    campaign's are; TestInvalid names the field, CampaignStateError says the campaign is past its draft. Call it
    with nothing pending in the session (see check_campaign). The caller commits."""
    from app.sending.campaigns import CampaignInvalid, CampaignStateError, check_campaign

    if campaign.state != CampaignState.DRAFT:
        raise CampaignStateError(f"a {campaign.state} campaign's A/B test cannot change")
    settings = check(test, variants)
    base = campaign.model_dump()  # read before the checks end the session's transaction
    for i, v in enumerate(variants):  # each variant's templates as the campaign's are checked
        changed = {f: v[f] for f in VARIANT_FIELDS if v.get(f) is not None}
        try:
            check_campaign(session, Campaign.model_validate({**base, **changed, "ab_test": None}))
        except CampaignInvalid as exc:
            raise TestInvalid(f"variants[{i}].{exc.field}", exc.detail) from exc
    campaign.ab_test = settings
    set_variants(session, campaign, variants)
    campaign.updated_at = utcnow()
    session.add(campaign)


def choose_winner(session: Session, campaign: Campaign, number: int, now: datetime) -> int:
    """A marketer's choice: send variant NUMBER to the rest (see `choose`)."""
    from app.sending.campaigns import timing_of

    if campaign.state not in (CampaignState.SENDING, CampaignState.PAUSED):
        raise TestInvalid("variant", f"a {campaign.state} campaign's winner cannot be chosen")
    return choose(session, campaign, number, timing_of(campaign), now)


def report(session: Session, campaign: Campaign) -> dict[str, Any]:
    """Each variant's settings and figures, the winner and the confidence note."""
    assert campaign.id is not None
    pick = pick_of(campaign)
    figs = figures(session, campaign.id)
    rows = [
        {
            "number": v.number,
            **{f: getattr(v, f) for f in VARIANT_FIELDS},
            "sent": f.sent,
            "opened": f.opened,
            "clicked": f.clicked,
            "bounced": f.bounced,
            "rate": round(f.rate(pick), 4),
        }
        for v, f in zip(variants_of(session, campaign.id), figs, strict=True)
    ]
    return {
        "ab_test": campaign.ab_test,
        "compared_by": pick,
        "winner": campaign.ab_winner,
        "variants": rows,
        **(significance(figs, pick) if figs else {"z": None, "significant": False, "note": "no A/B test"}),
    }
