"""The marketers' web pages: server-rendered forms behind a session sign-in, with CSRF on every form."""

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from app.web.deps import ADMINISTRATION, MARKETING, SIGNED_IN, current_user, may_change
from app.web.language import LanguageMiddleware
from app.web.routes import (
    account,
    apikeys,
    archive,
    audience,
    auth,
    automations,
    bounces,
    campaigns,
    contacts,
    dashboard,
    identities,
    library,
    lists,
    relays,
    reports,
    segments,
    settings,
    setup,
    signup,
    suppressions,
    users,
)
from app.web.session import LazySessionMiddleware

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and the session cookie on the service. Each page group is
    mounted with the roles that may use it: every role reads the marketing pages and only admins and
    marketers change anything there; the administration pages are for admins alone."""
    marketing = APIRouter(include_in_schema=False, dependencies=MARKETING)
    for module in (
        dashboard,
        lists,
        contacts,
        segments,
        audience,
        campaigns,
        reports,
        library,
        automations,
        bounces,
        suppressions,
    ):
        marketing.include_router(module.router)
    administration = APIRouter(include_in_schema=False, dependencies=ADMINISTRATION)
    for module in (settings, apikeys, relays, identities, users):
        administration.include_router(module.router)
    own_account = APIRouter(include_in_schema=False, dependencies=SIGNED_IN)
    own_account.include_router(account.router)
    app.include_router(auth.router)
    app.include_router(setup.router)
    app.include_router(signup.public)  # subscribers' pages: no sign-in, no CSRF (the snippet posts from other sites)
    app.include_router(archive.public)  # the lists' public archives and view in browser
    app.include_router(marketing)
    app.include_router(administration)
    app.include_router(own_account)
    uploads_deps = [Depends(current_user), Depends(may_change)]
    app.include_router(lists.uploads, include_in_schema=False, dependencies=uploads_deps)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(LazySessionMiddleware, settings=app.state.settings, engine=app.state.engine)
    app.add_middleware(LanguageMiddleware, default=app.state.settings.default_language)
