"""The scraped process's own metrics: how long its HTTP requests take, by route template (`/api/v1/campaigns/
{campaign_id}`, never the path itself, so the label's values stay few) and the status class; and the
registry /metrics writes out."""

import hmac
import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics.scrape import DatabaseCollector
from app.settings import Settings

UNMATCHED = "unmatched"  # a 404 for a path no route has


class Metrics:
    """One app's registry: the database's figures, read at scrape time, and this process's latencies."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DatabaseCollector(settings, engine))
        self.latency = Histogram(
            "bulkmail_http_request_duration_seconds",
            "HTTP request latency of this process, by method, route template and status class",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class RequestLatency:
    """ASGI middleware timing each HTTP request until its response has started."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root = scope.get("root_path", "")  # a mount below adds its prefix to it
        status = 500  # an exception before the response started

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.latency.labels(scope["method"], route_template(scope, root), f"{status // 100}xx").observe(
                time.perf_counter() - started
            )


def route_template(scope: Scope, root_path: str) -> str:
    """The template of the route that answered (`/api/v1/campaigns/{campaign_id}`). The router leaves the route
    on the scope; its path is relative to the router that included it, whose prefix is literal: the request's
    path up to where the route's pattern matches."""
    route: Any = scope.get("route")
    template, pattern = getattr(route, "path_format", None), getattr(route, "path_regex", None)
    if template and pattern:
        path: str = scope["path"]
        for i, char in enumerate(path):
            if char == "/" and pattern.match(path[i:]):
                return path[:i] + template
        return str(template)
    mounted = scope.get("root_path", "")[len(root_path) :]  # a mounted app (the static files)
    return f"{mounted}/{{path}}" if mounted else UNMATCHED


def token_matches(expected: str, authorization: str | None) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())
