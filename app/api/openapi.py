"""What /openapi.json says beyond what the routes declare: the Bearer scheme, the Idempotency-Key
header, problem+json for every error, and the webhooks a CMS receives (OpenAPI 3.1 `webhooks`)."""

from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from app.api.errors import PROBLEM_TYPE

API_PREFIX = "/api/v1/"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string (a UUID). A retry with the same key gets the first response back "
    "(header Idempotent-Replayed: true) instead of doing the work twice; kept 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


class BounceData(BaseModel):
    email: str = Field(examples=["ann@example.com"])
    campaign_id: int | None
    delivery_id: int | None
    reason: str = Field(examples=["userunknown"])
    hard: bool
    status: str = Field(examples=["5.1.1"])
    reply_code: str = Field(examples=["550"])
    diagnostic: str
    source: str = Field(description="sweep (a DSN in the bounce mailbox)")


class AddressData(BaseModel):
    email: str = Field(examples=["ann@example.com"])
    campaign_id: int | None
    delivery_id: int | None
    source: str | None = Field(default=None, description="unsubscribes: one-click, unsubscribe page, api, mail")


class CompletedData(BaseModel):
    campaign_id: int
    name: str
    completed_at: datetime
    audience_counts: dict[str, Any]


class GuardData(BaseModel):
    metric: Literal["hard_bounces", "complaints"]
    window: Literal["24h", "7d"]
    percent: float = Field(examples=[12.4], description="the rate, in percent of the messages out in the window")
    count: int = Field(description="hard bounces or complaints in the window, one per address")
    out: int = Field(description="messages out in the window")
    threshold: float = Field(examples=[10.0], description="the pause threshold it reached, in percent")
    at: datetime
    rates: dict[str, dict[str, int]] = Field(
        description='each window\'s counts: {"24h": {"out": 520, "hard_bounces": 78, "complaints": 0}, "7d": ...}'
    )


class PausedData(BaseModel):
    campaign_id: int
    name: str
    paused_at: datetime
    cause: Literal["guard", "relay"] = Field(description="the deliverability guard, or a relay problem")
    reason: str = Field(description="the reason the campaign shows (English)")
    guard: GuardData | None = Field(description="what the guard found; null for a relay problem")


def _envelope(name: str, event: str, data: type[BaseModel]) -> type[BaseModel]:
    return type(
        name,
        (BaseModel,),
        {
            "__annotations__": {"id": int, "type": Literal[event], "created_at": datetime, "data": data},
            "__doc__": f"The `{event}` event, POSTed as JSON. Verify X-Bulkmail-Signature before trusting it: "
            't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the webhook secret>.',
        },
    )


EVENTS: dict[str, type[BaseModel]] = {
    "bounce": _envelope("BounceEvent", "bounce", BounceData),
    "complaint": _envelope("ComplaintEvent", "complaint", AddressData),
    "unsubscribe": _envelope("UnsubscribeEvent", "unsubscribe", AddressData),
    "campaign.completed": _envelope("CampaignCompletedEvent", "campaign.completed", CompletedData),
    "campaign.paused": _envelope("CampaignPausedEvent", "campaign.paused", PausedData),
}


def _document_webhooks(app: FastAPI) -> None:
    for event, model in EVENTS.items():

        def receiver(body: model) -> None:  # type: ignore[valid-type]  # a model built at run time, for FastAPI to document
            """Answer 2xx within 10 s; anything else is retried with exponential backoff for 24 hours."""

        receiver.__name__ = f"{event.replace('.', '_')}_event"
        app.webhooks.add_api_route(event, receiver, methods=["POST"], summary=f"{event} event", status_code=200)


# Request examples for the calls a CMS makes most.
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/contacts/bulk"): {
        "list_id": 1,
        "contacts": [
            {"external_id": "u-1001", "email": "ann@example.com", "first_name": "Ann", "attributes": {"plan": "pro"}},
            {"external_id": "u-1002", "email": "bob@example.com", "first_name": "Bob"},
        ],
    },
    ("post", "/api/v1/lists"): {"name": "Newsletter", "description": "Website users who opted in"},
    ("post", "/api/v1/campaigns"): {
        "name": "Spring news",
        "from_name": "Example Shop",
        "from_address": "news@example.com",
        "subject": "Hi {{ first_name }}, spring is here",
        "html_template": "<p>Hello {{ first_name }}</p>",
        "text_template": "Hello {{ first_name }}",
        "list_ids": [1],
    },
    ("post", "/api/v1/segments"): {
        "name": "Germans who stayed quiet",
        "expression": "country = 'DE' and not received within 90 days and list in ('News')",
    },
    ("post", "/api/v1/segments/preview"): {"expression": "country = 'DE' and not bounced hard"},
    ("patch", "/api/v1/campaigns/{campaign_id}"): {"subject": "Last call, {{ first_name }}"},
    ("post", "/api/v1/lists/{list_id}/subscribe"): {
        "email": "ann@example.com",
        "first_name": "Ann",
        "fields": {"company": "Example Ltd"},
        "consent_text_version": 1,
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
    },
    ("post", "/api/v1/suppressions"): {"email": "ann@example.com", "reason": "unsubscribed", "source": "cms"},
    ("post", "/api/v1/webhooks"): {
        "url": "https://cms.example.com/hooks/bulkmail",
        "events": ["bounce", "complaint", "unsubscribe", "campaign.completed", "campaign.paused"],
    },
}


def _examples(schema: dict[str, Any]) -> None:
    for (method, path), example in EXAMPLES.items():
        content = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
        content["example"] = example


def _problems_everywhere(schema: dict[str, Any]) -> None:
    for path, item in schema.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for method, op in item.items():
            op["security"] = [{"bearerAuth": []}]
            if method == "post":
                op.setdefault("parameters", []).append(IDEMPOTENCY_PARAM)
            for code, response in op.get("responses", {}).items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {PROBLEM_TYPE: {"schema": PROBLEM_REF}}
                if code == "429":
                    response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key: `bulkmail apikey create --name CMS --scope write`",
    }
    for unused in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(unused, None)


CONTRACT = """

## Using the API
- **Auth**: `Authorization: Bearer <key>` (`bulkmail apikey create --name CMS --scope read|write`). 401 without a
  valid key; 403 for a read key on anything but GET.
- **Errors**: `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, `instance`, and `errors[]`
  naming each field at fault (`loc`, dotted `field`, JSON `pointer` for body fields, `msg`).
- **Lists**: `?limit=&cursor=`; the response is `{items, next_cursor}`; pass `next_cursor` back until it is null.
- **Retries**: send `Idempotency-Key` on POSTs; a repeat within 24 h returns the first response
  (`Idempotent-Replayed: true`); the same key with another body is a 422, a repeat while the first runs a 409.
- **Limits**: a token bucket per key (429 with `Retry-After` in seconds); JSON bodies up to a configured size (413).
- **Time**: every timestamp is UTC, ISO 8601.
- **Webhooks**: register with POST /api/v1/webhooks. Each event is a JSON POST (see *webhooks* below) with
  `X-Bulkmail-Event-Id` (de-duplicate on it), `X-Bulkmail-Event` and
  `X-Bulkmail-Signature: t=<unix seconds>,v1=<hex>`, where hex = HMAC-SHA256(secret, "<t>." + raw body).
  Recompute it over the bytes received, compare in constant time, reject a `t` more than 5 minutes off.
  Non-2xx answers are retried with exponential backoff (30 s, doubling) for 24 hours; every attempt is in
  GET /api/v1/webhook-deliveries, and POST /api/v1/webhook-deliveries/{id}/replay sends one again.
  Redirects are not followed. The URL must resolve to public addresses only: loopback, private, link-local,
  multicast and reserved ones are refused (422 on `url`, and again at each delivery, on the address resolved
  then) unless the server's BULKMAIL_WEBHOOK_ALLOWED_NETWORKS lists them.
"""


# the groups of /docs, in this order (not the order the routes are matched in)
TAGS = [
    {"name": "health", "description": "Is the service up; needs no API key."},
    {"name": "audience", "description": "Lists, imports, contacts and suppressions."},
    {
        "name": "segments",
        "description": "Saved conditions over contacts (fields, lists, consent, history) that campaigns send to or"
        " leave out, evaluated at launch.",
    },
    {"name": "signup", "description": "A list's signup form settings, and subscribing a person from a CMS's form."},
    {"name": "campaigns", "description": "Compose, launch, pause, resume and cancel; progress and the ledger."},
    {
        "name": "messages",
        "description": "Transactional messages (password resets, receipts): one message sent now, its state.",
    },
    {"name": "templates", "description": "The template library: saved templates and layouts."},
    {
        "name": "automations",
        "description": "Welcome series and drips: a trigger and ordered steps each contact goes through once; "
        "their messages go through the ledger.",
    },
    {"name": "bounces", "description": "Bounce records and the sweeps of the bounce mailbox."},
    {"name": "webhooks", "description": "Endpoints that receive events, and every delivery to them."},
    {"name": "relays", "description": "The relays campaigns go through: weights, failover and each one's state."},
    {
        "name": "identities",
        "description": "Sending identities: From domain, DKIM key and its DNS record, bounce address.",
    },
]


def describe(app: FastAPI) -> None:
    _document_webhooks(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description + CONTRACT,
                routes=app.routes,
                webhooks=app.webhooks.routes,
                tags=TAGS,
            )
            _problems_everywhere(schema)
            _examples(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's way to extend the schema
