"""Errors as `application/problem+json` (RFC 9457): a status, a title, and what went wrong."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """An answer other than success: its status, a short title and the detail."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def answer(status: int, title: str, detail: str = "", headers: dict[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    """The problem as a response."""
    body = {"type": "about:blank", "status": status, "title": title, **({"detail": detail} if detail else {}), **extra}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    """Answer every error of `app` as a problem: ours, HTTP ones, and bad input (naming the field)."""

    @app.exception_handler(Problem)
    def problem(_request: Request, error: Problem) -> JSONResponse:
        return answer(error.status, error.title, error.detail, **error.extra)

    @app.exception_handler(HTTPException)
    def http_error(_request: Request, error: HTTPException) -> JSONResponse:
        return answer(error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    def bad_input(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(part) for part in item["loc"][1:]) or str(item["loc"][0]),
                   "message": item["msg"]} for item in error.errors()]
        detail = "; ".join(f"{item['field']}: {item['message']}" for item in errors)
        return answer(422, "The request is not valid", detail, errors=errors)
