"""The web application: the HTTP API on the application's database and broker, its errors as
problems, and its guard on every request that changes something."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from . import endpoints, events, failed, failed_pages, pages, problems, requests, visits

CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def create_app(pizzeria: Any, token: str | None = None) -> FastAPI:
    """The web application of `pizzeria` (a bootstrapped App); with a `token`, every request
    that changes something must carry it (`Authorization: Bearer TOKEN`)."""
    requests.metadata.create_all(pizzeria.engine)
    web = FastAPI(title="pizzeria", summary="The pizza house: its visits, failed messages and endpoints.")
    web.state.pizzeria = pizzeria
    problems.install(web)
    web.include_router(visits.router)
    web.include_router(failed.router)
    web.include_router(endpoints.router)
    web.include_router(events.router)
    web.include_router(pages.router)
    web.include_router(failed_pages.router)
    web.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @web.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method in CHANGING:
            refused = _refused(request, token)
            if refused is not None:
                return refused
        return await call_next(request)

    return web


def _refused(request: Request, token: str | None) -> Response | None:
    """Why a request that changes something is refused: it came from another site's page, or
    without the token; None if it may go on."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return problems.answer(403, "Cross-origin request refused", f"a request from {origin} may not change anything")
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            return problems.answer(401, "Token required", "send Authorization: Bearer PIZZERIA_WEB_TOKEN",
                                   headers={"WWW-Authenticate": "Bearer"})
    return None
