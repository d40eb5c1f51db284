"""The one place where errors become HTTP answers: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from podplus.errors import PodplusError, TooManyRequests, Unauthorized

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def error_response(
    status_code: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status_code, headers=headers)


async def podplus_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PodplusError)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after_s)
    return error_response(exc.status_code, exc.code, exc.message, headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Nothing at {request.url.path}."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}."
    else:
        message = exc.detail or HTTPStatus(exc.status_code).phrase
    code = _HTTP_CODES.get(
        exc.status_code, HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
    )
    return error_response(exc.status_code, code, message, dict(exc.headers or {}))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log, never to the client.
    logger.exception("event=http.unexpected_error path=%s", request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on our side.")


EXCEPTION_HANDLERS = {
    PodplusError: podplus_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
