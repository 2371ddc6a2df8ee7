"""The web application: the HTTP API on the application's database and broker, its errors as
problems, and its guard on every request that changes something."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from . import chosen_visits, endpoints, events, failed, failed_pages, metrics, pages, problems, requests, visits

CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SWAGGER_UI = "5.35.0"  # shipped in static/, with its licence
LOGIN = "/login"


def create_app(pizzeria: Any, token: str | None = None) -> FastAPI:
    """The web application of `pizzeria` (a bootstrapped App); with a `token`, every request
    that changes something must carry it (`Authorization: Bearer TOKEN`, or the cookie the
    login page sets)."""
    requests.metadata.create_all(pizzeria.engine)
    web = Web(title="pizzeria", summary="The pizza house: its visits, failed messages and endpoints.",
              docs_url=None, redoc_url=None)
    web.state.pizzeria, web.state.token = pizzeria, token
    problems.install(web)
    web.include_router(visits.router)
    web.include_router(failed.router)
    web.include_router(endpoints.router)
    web.include_router(events.router)
    web.include_router(pages.router)
    web.include_router(failed_pages.router)
    web.include_router(chosen_visits.router)
    web.include_router(metrics.router)
    web.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @web.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """The API's description to read and try, Swagger UI served from the package, not a CDN."""
        return get_swagger_ui_html(openapi_url="/openapi.json", title="pizzeria API",
                                   swagger_js_url=f"/static/swagger-ui-bundle-{SWAGGER_UI}.js",
                                   swagger_css_url=f"/static/swagger-ui-{SWAGGER_UI}.css",
                                   swagger_favicon_url="/static/swagger-ui-favicon-32x32.png")

    @web.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method in CHANGING:
            refused = _refused(request, token)
            if refused is not None:
                return refused
        return await call_next(request)

    return web


class Web(FastAPI):
    """FastAPI whose OpenAPI document also tells what FastAPI cannot see: that every error is a
    problem, that a body it cannot parse is a 400, and what the guard answers a request that changes
    something (403 from another site's page; with a token, 401 without it, the token a bearer scheme)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = _completed(super().openapi(), self.state.token)
        return self.openapi_schema


def _completed(document: dict[str, Any], token: str | None) -> dict[str, Any]:
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = problems.SCHEMA
    if token is not None:
        components["securitySchemes"] = {"token": {"type": "http", "scheme": "bearer",
                                                   "description": "PIZZERIA_WEB_TOKEN, or sign in at /login"}}
    guarded = (401, 403) if token is not None else (403,)
    for operations in document["paths"].values():
        for method, operation in operations.items():
            if "requestBody" in operation:
                operation["responses"].update(problems.responses(400))
            if method.upper() in CHANGING:
                operation["responses"].update(problems.responses(*guarded))
                operation.update({"security": [{"token": []}]} if token is not None else {})
    return document


def _refused(request: Request, token: str | None) -> Response | None:
    """Why a request that changes something is refused: it came from another site's page, or
    without the token (but for the login itself); None if it may go on."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return _refusal(request, 403, "Cross-origin request refused", f"a request from {origin} may not change anything")
    if token is not None and request.url.path != LOGIN and not carries(request, token):
        return _refusal(request, 401, "Token required",
                        f"send Authorization: Bearer PIZZERIA_WEB_TOKEN, or sign in at {LOGIN}")
    return None


def carries(request: Request, token: str) -> bool:
    """True if the request carries `token`, as a bearer token or in the login's cookie."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        given = request.cookies.get(pages.TOKEN_COOKIE, "")
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def _refusal(request: Request, status: int, title: str, detail: str) -> Response:
    """A problem for the API; for a page's request (htmx), the line it shows."""
    if request.headers.get("hx-request"):
        return HTMLResponse(pages.message(detail, error=True), status_code=status)
    return problems.answer(status, title, detail, headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
