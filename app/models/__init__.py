"""All tables; importing this module registers them on SQLModel.metadata."""

from app.models.api import IdempotencyRecord, RateBucket
from app.models.audience import (
    Contact,
    ContactSearch,
    CustomField,
    ImportJob,
    ImportReject,
    ListMember,
    MailingList,
    Suppression,
)
from app.models.auth import ApiKey, AuditEntry, RecoveryCode, RolePolicy, User, UserInvite, WebSession
from app.models.automations import Automation, AutomationPosition, AutomationStep
from app.models.bounces import Bounce, MailboxSweep, ProcessedMessage
from app.models.metrics import MetricCounter, WorkerHeartbeat
from app.models.pacing import PacingState
from app.models.relays import Relay, SendingIdentity
from app.models.segments import Segment
from app.models.sending import (
    Campaign,
    CampaignDomainStateCount,
    CampaignStateCount,
    CampaignVariant,
    Delivery,
    DeliveryAttempt,
    MessageContent,
    MessageTemplate,
)
from app.models.subscription import ConsentEvent, ConsentText, SignupForm, SignupRequest, TransactionalMessage
from app.models.system import JobLock, StoredSetting
from app.models.tracking import CampaignLink, TrackingCount, TrackingHit
from app.models.types import utcnow
from app.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "ApiKey",
    "Automation",
    "AutomationPosition",
    "AutomationStep",
    "AuditEntry",
    "Bounce",
    "Campaign",
    "CampaignDomainStateCount",
    "CampaignStateCount",
    "CampaignVariant",
    "CampaignLink",
    "ConsentEvent",
    "ConsentText",
    "Contact",
    "ContactSearch",
    "CustomField",
    "Delivery",
    "DeliveryAttempt",
    "IdempotencyRecord",
    "ImportJob",
    "ImportReject",
    "JobLock",
    "ListMember",
    "MailboxSweep",
    "MailingList",
    "MessageContent",
    "MessageTemplate",
    "MetricCounter",
    "PacingState",
    "ProcessedMessage",
    "RecoveryCode",
    "Relay",
    "RolePolicy",
    "Segment",
    "SendingIdentity",
    "SignupForm",
    "RateBucket",
    "StoredSetting",
    "Suppression",
    "SignupRequest",
    "TrackingCount",
    "TrackingHit",
    "TransactionalMessage",
    "User",
    "UserInvite",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebSession",
    "WorkerHeartbeat",
    "utcnow",
]
