"""The JSON API: one router per resource, mounted under /api/v1 by app.main, every route behind an API key,
with one contract: problem+json errors, cursor pages, Idempotency-Key, size and rate limits."""

from fastapi import APIRouter, Depends, FastAPI

from app.api import (
    audience,
    automations,
    bounces,
    campaigns,
    contacts,
    docs,
    errors,
    fields,
    imports,
    lists,
    messages,
    reports,
    segments,
    senders,
    signup,
    suppressions,
    templates,
    webhooks,
)
from app.api.auth import require_api_key
from app.api.idempotency import Idempotency
from app.api.limits import ApiLimits
from app.api.openapi import describe

api_router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(require_api_key)],
    responses=errors.COMMON_RESPONSES,
)
# A request is matched against the routers in this order, and each router passed costs time (FastAPI
# tries every route of it): the campaigns come first for the clients polling a sending campaign. /docs
# groups the routes by tag, in the order app.api.openapi.TAGS gives.
for module in (
    campaigns,
    messages,
    reports,
    lists,
    signup,
    imports,
    contacts,
    fields,
    suppressions,
    audience,
    segments,
    bounces,
    webhooks,
    senders,
    templates,
    automations,
):
    api_router.include_router(module.router)


def install(app: FastAPI) -> None:
    """The contract's handlers and middleware; the size and rate limits run before idempotency."""
    errors.install(app)
    app.add_middleware(Idempotency, engine=app.state.engine)
    app.add_middleware(ApiLimits, settings=app.state.settings, engine=app.state.engine)
    describe(app)
    docs.install(app)
