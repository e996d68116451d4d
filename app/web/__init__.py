"""The marketers' web pages: server-rendered forms behind a session sign-in, with CSRF on every form."""

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from app.web.deps import SIGNED_IN, current_user
from app.web.routes import (
    apikeys,
    audience,
    auth,
    bounces,
    campaigns,
    contacts,
    dashboard,
    lists,
    settings,
    setup,
    suppressions,
)
from app.web.session import LazySessionMiddleware

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and the session cookie on the service."""
    pages = APIRouter(include_in_schema=False, dependencies=SIGNED_IN)
    for module in (dashboard, lists, contacts, audience, campaigns, bounces, suppressions, settings, apikeys):
        pages.include_router(module.router)
    app.include_router(auth.router)
    app.include_router(setup.router)
    app.include_router(pages)
    app.include_router(lists.uploads, include_in_schema=False, dependencies=[Depends(current_user)])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(LazySessionMiddleware, settings=app.state.settings, engine=app.state.engine)
