"""/docs (Swagger UI) and /redoc with their scripts and styles served by bulkmail itself, so the API's
documentation works on a host without Internet access (no CDN). The assets come from the
`fastapi-offline` package: Swagger UI (Apache-2.0) and ReDoc (MIT), as published upstream."""

from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

ASSETS = "/docs/assets"
_ASSET_DIR = str(files("fastapi_offline") / "static")
FAVICON = f"{ASSETS}/favicon.png"


def install(app: FastAPI) -> None:
    """The documentation pages; create the app with docs_url=None and redoc_url=None. Each page is the
    same for every request, so it is built once, here."""
    assert app.openapi_url is not None
    app.mount(ASSETS, StaticFiles(directory=_ASSET_DIR), name="docs-assets")
    named: dict[str, Any] = {"openapi_url": app.openapi_url, "title": f"{app.title} API"}
    pages = {
        "/docs": get_swagger_ui_html(
            **named,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=FAVICON,
            swagger_ui_parameters={"validatorUrl": None},  # the validator badge would load an image from swagger.io
        ).body,
        "/redoc": get_redoc_html(
            **named, redoc_js_url=f"{ASSETS}/redoc.standalone.js", redoc_favicon_url=FAVICON, with_google_fonts=False
        ).body,
    }

    for path, html in pages.items():
        app.add_route(path, _serving(bytes(html)), include_in_schema=False)


def _serving(html: bytes) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse(html)

    return page
