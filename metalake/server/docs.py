"""`/docs` (Swagger UI) and `/redoc` served with their scripts and styles from the package.

FastAPI's own pages load them from a CDN, which leaves the docs blank on a machine without
internet access; `fastapi-offline` ships the same files, which a static mount serves here.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"


def install_docs(app: FastAPI) -> None:
    """Add the docs pages and their assets to an app built with `docs_url=redoc_url=None`."""
    assets = files("fastapi_offline").joinpath("static")
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets)), name="docs-assets")

    def root(request: Request) -> str:
        return request.scope.get("root_path", "")

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request) + ASSETS_URL
        return get_swagger_ui_html(
            openapi_url=root(request) + str(app.openapi_url),
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=None,
            swagger_js_url=f"{base}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}/swagger-ui.css",
            swagger_favicon_url=f"{base}/favicon.png",
        )

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        base = root(request) + ASSETS_URL
        return get_redoc_html(
            openapi_url=root(request) + str(app.openapi_url),
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{base}/redoc.standalone.js",
            redoc_favicon_url=f"{base}/favicon.png",
            with_google_fonts=False,
        )
