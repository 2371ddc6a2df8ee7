"""Errors as `application/problem+json` (RFC 9457): a status, a title, and what went wrong; and
how the OpenAPI document declares them."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPMethod, HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

MEDIA_TYPE = "application/problem+json"
SCHEMA = {  # the problem in the OpenAPI document, as components/schemas/Problem
    "type": "object", "required": ["type", "status", "title"], "description": "What went wrong (RFC 9457).",
    "properties": {
        "type": {"type": "string"}, "status": {"type": "integer"}, "title": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "description": "For a request that is not valid: each field and what is wrong with it.",
                   "items": {"type": "object", "required": ["field", "message"],
                             "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}}


class Problem(Exception):
    """An answer other than success: its status, a short title and the detail."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: each of these statuses answered with a problem."""
    content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {str(status): {"description": HTTPStatus(status).phrase, "content": content} for status in statuses}


def answer(status: int, title: str, detail: str = "", headers: Mapping[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    """The problem as a response."""
    body = {"type": "about:blank", "status": status, "title": title, **({"detail": detail} if detail else {}), **extra}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _methods_at(request: Request) -> list[str]:
    """Every method that a route of the application takes at the request's path."""
    return [method.value for method in HTTPMethod if any(
        route.matches({**request.scope, "method": method.value})[0] is Match.FULL for route in request.app.routes)]


def install(app: FastAPI) -> None:
    """Answer every error of `app` as a problem: ours, HTTP ones, and bad input (naming the field)."""

    @app.exception_handler(Problem)
    def problem(_request: Request, error: Problem) -> JSONResponse:
        return answer(error.status, error.title, error.detail, **error.extra)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, error: HTTPException) -> JSONResponse:
        headers = error.headers
        if headers and "Allow" in headers:  # a route's 405: it names its own methods, not all the path takes
            headers = {**headers, "Allow": ", ".join(_methods_at(request))}
        return answer(error.status_code, str(error.detail), headers=headers)

    @app.exception_handler(RequestValidationError)
    def bad_input(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(part) for part in item["loc"][1:]) or str(item["loc"][0]),
                   "message": item["msg"]} for item in error.errors()]
        detail = "; ".join(f"{item['field']}: {item['message']}" for item in errors)
        return answer(422, "The request is not valid", detail, errors=errors)
