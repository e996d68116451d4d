"""create_app(): the FastAPI service with its routers and background services."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app import __version__, preference_page, unsubscribe, web
from app.api import api_router
from app.api import install as install_api
from app.api.health import router as health_router
from app.api.metrics import router as metrics_router
from app.api.priority import PriorityRequests
from app.config_store import live_for
from app.db import get_engine
from app.logs import RequestIds
from app.metrics.http import Metrics, RequestLatency
from app.runtime import BackgroundServices, freeze_startup_heap
from app.settings import Settings, get_settings
from app.tracking.recorder import Recorder
from app.tracking.routes import PATHS, HitRoutes, quiet_access_log
from app.users.audit import AuditMiddleware


class Service(FastAPI):
    """The application: the open pixel and click routes are answered first, before FastAPI's and Starlette's
    own wrappers and every middleware (app/tracking/routes.py); everything else as FastAPI answers it."""

    hits: HitRoutes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PATHS):
            await self.hits(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = get_engine(settings)
    recorder = Recorder(settings, engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = BackgroundServices(settings, engine)
        services.start()
        recorder.start()
        quiet_access_log()
        freeze_startup_heap()
        try:
            yield
        finally:
            recorder.stop()  # the hits still queued are written before the process ends
            services.stop()

    app = Service(
        title="bulkmail",
        version=__version__,
        description="Bulk e-mail with a per-recipient ledger and bounce monitoring.",
        lifespan=lifespan,
        docs_url=None,  # app.api.docs serves /docs and /redoc without a CDN
        redoc_url=None,
    )
    app.state.settings = settings  # the environment's; requests read the effective ones (SettingsDep)
    app.state.live_settings = live_for(settings, engine)
    app.state.engine = engine
    app.state.metrics = Metrics(settings, engine)
    app.state.recorder = recorder
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(api_router)
    install_api(app)
    app.include_router(unsubscribe.router)
    app.include_router(preference_page.router)
    web.install(app)
    app.add_middleware(AuditMiddleware, engine=engine)  # every state-changing request, web and API
    app.add_middleware(PriorityRequests, engine=engine)  # transactional sends ahead of the workers (SQLite)
    app.add_middleware(RequestLatency, metrics=app.state.metrics)  # the whole time of each request
    app.add_middleware(RequestIds)  # every line logged for a request carries its id
    app.hits = HitRoutes(recorder, settings, engine)
    return app
