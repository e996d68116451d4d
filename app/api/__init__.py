"""The JSON API: one router per resource, mounted under /api/v1 by app.main, every route behind an API key,
with one contract: problem+json errors, cursor pages, Idempotency-Key, size and rate limits."""

from fastapi import APIRouter, Depends, FastAPI

from app.api import (
    audience,
    bounces,
    campaigns,
    contacts,
    docs,
    errors,
    fields,
    imports,
    lists,
    suppressions,
    webhooks,
)
from app.api.auth import require_api_key
from app.api.idempotency import Idempotency, session_ends_before_the_answer
from app.api.limits import ApiLimits
from app.api.openapi import describe

api_router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(require_api_key), Depends(session_ends_before_the_answer, scope="function")],
    responses=errors.COMMON_RESPONSES,
)
# the audience's resources, in the order /docs shows them
for module in (lists, imports, contacts, fields, suppressions, audience):
    api_router.include_router(module.router)
api_router.include_router(campaigns.router)
api_router.include_router(bounces.router)
api_router.include_router(webhooks.router)


def install(app: FastAPI) -> None:
    """The contract's handlers and middleware; the size and rate limits run before idempotency."""
    errors.install(app)
    app.add_middleware(Idempotency, engine=app.state.engine)
    app.add_middleware(ApiLimits, settings=app.state.settings, engine=app.state.engine)
    describe(app)
    docs.install(app)
