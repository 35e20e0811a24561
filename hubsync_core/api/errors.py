"""One error shape for every HTTP API answer that is not a success.

    {"status": 404, "message": "No contact with id 42", "hint": "..."}

`status` repeats the HTTP status code, `message` says what went wrong, `hint` what to do
about it; some errors add fields (`parameter` for a bad parameter, `run_id` and `holder`
for a sync already running, `correlation_id` to find an unexpected error in the log).
Validation errors (422) name the parameter; unknown routes answer 404, unexpected
exceptions 500, all in this shape, never a bare HTML page or a stack trace.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("hubsync.api")


class ErrorBody(BaseModel):
    """The JSON every error answers with (extra fields vary by error)."""

    model_config = ConfigDict(extra="allow")

    status: int
    message: str
    hint: str = ""


class ApiError(Exception):
    """Raise in a route to answer with the error shape; `extra` adds fields to the body."""

    def __init__(
        self,
        status: int,
        message: str,
        hint: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint
        self.headers = dict(headers or {})
        self.extra = extra


def bad_parameter(name: str, problem: str, hint: str = "", status: int = 422) -> ApiError:
    """A 4xx naming the parameter: `Invalid parameter 'limit': must be at most 1000`."""
    return ApiError(status, f"Invalid parameter '{name}': {problem}", hint, parameter=name)


def error_response(
    status: int,
    message: str,
    hint: str = "",
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A response in the error shape."""
    body = {"status": status, "message": message, "hint": hint, **extra}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


#: OpenAPI `responses=` entries for routes, e.g. `responses=error_responses(404, 409)`.
_DESCRIPTIONS = {
    400: "Bad request (the message names the parameter)",
    401: "Missing or wrong bearer token",
    404: "Not found",
    409: "A sync is already running (holder and run id given)",
    422: "Invalid parameter (the message names it)",
    503: "Not ready",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error answers a route can give."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


def _parameter_name(loc: Sequence[Any]) -> str:
    """`("query", "limit")` → `limit`; `("body", "batch_size")` → `batch_size`."""
    parts = [str(p) for p in loc[1:] if not isinstance(p, int)] if len(loc) > 1 else []
    return ".".join(parts) or (str(loc[0]) if loc else "request")


def _describe_problem(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "is invalid"))
    if error.get("type") == "missing":
        return "is required"
    if error.get("type") == "extra_forbidden":
        return "is not a known field"
    if error.get("type") == "json_invalid":
        return "is not valid JSON"
    return message[0].lower() + message[1:] if message else "is invalid"


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.hint, headers=exc.headers, **exc.extra)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        problems.append(
            {
                "parameter": _parameter_name(loc),
                "location": str(loc[0]) if loc else "request",
                "problem": _describe_problem(error),
            }
        )
    first = problems[0] if problems else {"parameter": "request", "problem": "is invalid"}
    where = "field" if first.get("location") == "body" else "parameter"
    return error_response(
        422,
        f"Invalid {where} '{first['parameter']}': {first['problem']}",
        "Fix the value and retry; /docs lists every parameter and its allowed values.",
        parameter=first["parameter"],
        errors=problems,
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = f"No route {request.method} {request.url.path}"
        hint = "See /docs for the routes this server answers."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
        hint = "See /docs for the methods each route accepts."
    else:
        message, hint = str(exc.detail), ""
    return error_response(exc.status_code, message, hint, headers=exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    correlation_id = uuid.uuid4().hex
    log.error(
        "Unexpected error on %s %s (correlation id %s)",
        request.method,
        request.url.path,
        correlation_id,
        exc_info=exc,
    )
    return error_response(
        500,
        f"Unexpected error: {type(exc).__name__}",
        "The server log has the details under this correlation id.",
        correlation_id=correlation_id,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of `app` answer in the error shape."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
