"""The values the tables store for states and kinds, named once: models, services and routers compare
against these names, never against a repeated literal."""


class CampaignState:
    """draft -> scheduled -> sending -> paused -> sending ... -> completed; anything not final -> cancelled."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    EDITABLE = (DRAFT, SCHEDULED, PAUSED)  # its content may still change
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ALL = (DRAFT, SCHEDULED, SENDING, PAUSED, COMPLETED, CANCELLED)


class CampaignKind:
    """bulk: a campaign to lists and segments; transactional: a sending identity's stream of API messages."""

    BULK = "bulk"
    TRANSACTIONAL = "transactional"


class DeliveryState:
    """queued/deferred/waiting rows are due work (waiting: for its sending window, or its recipient's local
    time; a worker's claim turns it back into queued or deferred); sent/failed/expired/cancelled are final,
    bounced is set later by a sweep (or a send-time 5xx) for a row that was sent."""

    QUEUED = "queued"
    DEFERRED = "deferred"
    WAITING = "waiting"
    DUE = (QUEUED, DEFERRED, WAITING)
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    BOUNCED = "bounced"
    FINAL = (SENT, FAILED, EXPIRED, CANCELLED, BOUNCED)
    ALL = DUE + FINAL


class BounceKind:
    """What a Bounce row records. Only `bounce` counts towards suppression; `delayed` is a DSN that
    says the message may still arrive."""

    BOUNCE = "bounce"
    DELAYED = "delayed"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    REQUESTS = (COMPLAINT, UNSUBSCRIBE)  # a person asked us to stop: the address is suppressed
    AUTOREPLY = "autoreply"
    DELIVERY = "delivery"
    ALL = (BOUNCE, DELAYED, COMPLAINT, AUTOREPLY, UNSUBSCRIBE, DELIVERY)


class BounceSource:
    """What recorded a Bounce row: the mailbox sweep, a relay's 5xx at send time, or the retry
    schedule giving up."""

    SWEEP = "sweep"
    SMTP = "smtp"
    EXPIRY = "expiry"


class SuppressionReason:
    """Why an address must not be mailed."""

    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    MANUAL = "manual"
    ERASED = "erased"  # the person had their data erased; the row keeps a salted hash of the address only
    ALL = (UNSUBSCRIBED, BOUNCED, COMPLAINED, MANUAL, ERASED)


class MemberStatus:
    """A list membership: `unconfirmed` until a double opt-in signup's link is followed; only
    `subscribed` members are ever in an audience."""

    SUBSCRIBED = "subscribed"
    UNCONFIRMED = "unconfirmed"
    ALL = (SUBSCRIBED, UNCONFIRMED)


class MessageState:
    """A transactional message (signup confirmation, welcome): due while queued or deferred (a 4xx,
    retried on the campaigns' schedule); sent, failed (5xx), expired (the schedule gave up) or bounced
    (the sweep found it returned)."""

    # the ledger's words, so a report reads both alike
    QUEUED, DEFERRED = DeliveryState.QUEUED, DeliveryState.DEFERRED
    DUE = (QUEUED, DEFERRED)
    SENT, FAILED, EXPIRED, BOUNCED = (
        DeliveryState.SENT,
        DeliveryState.FAILED,
        DeliveryState.EXPIRED,
        DeliveryState.BOUNCED,
    )
