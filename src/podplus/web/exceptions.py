"""The one place where errors become HTTP answers: ``{"error": {"code", "message"}}``, and
``"reason"`` beside them where the error's cause is a value a client can branch on."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from podplus.errors import (
    ArtworkNotJpegOrPng,
    ArtworkRefused,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    JobQuotaExceeded,
    MediaQuotaExceeded,
    NotFound,
    PayloadTooLarge,
    PodplusError,
    PublishRefused,
    RangeNotSatisfiable,
    StoreUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMedia,
)
from podplus.feeds.artwork import ArtworkRule
from podplus.storage.database import MAYBE_UNAVAILABLE_ERRORS, UNAVAILABLE_ERRORS, is_unavailable
from podplus.storage.publishing import PublishBlock
from podplus.web.headers import ERROR_HEADERS

logger = logging.getLogger(__name__)

# What a client is told to wait when the database is down: a restart or failover.
DATABASE_RETRY_AFTER_S = 5

# Each podplus error answers with the entry of its nearest listed ancestor, so a new
# domain error (``EmailTaken(Conflict)``) needs no line here unless it answers differently.
# The codes are part of the API: clients branch on them, so they never change.
ERROR_ANSWERS: dict[type[PodplusError], tuple[int, str]] = {
    BadRequest: (400, "bad_request"),
    Unauthorized: (401, "unauthorized"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    Gone: (410, "gone"),
    PayloadTooLarge: (413, "payload_too_large"),
    # Its own code: deleting media helps, a smaller file may not.
    MediaQuotaExceeded: (413, "quota_exceeded"),
    UnsupportedMedia: (415, "unsupported_media"),
    RangeNotSatisfiable: (416, "range_not_satisfiable"),
    InvalidInput: (422, "invalid_input"),
    TooManyRequests: (429, "too_many_requests"),
    # Not a throttle: no Retry-After, since the wait is until one of the jobs ends.
    JobQuotaExceeded: (429, "quota_exceeded"),
    # The media store is down or slow: the request may succeed later, unchanged.
    StoreUnavailable: (503, "store_unavailable"),
    PodplusError: (500, "internal_error"),
}

# Refusals whose cause is a value (a ``StrEnum``), sent as ``error.reason`` so a client
# branches on it, not on the words: the attribute that holds it and the values it takes.
# Part of the API, as the codes are.
ERROR_REASONS: dict[type[PodplusError], tuple[str, tuple[str, ...]]] = {
    PublishRefused: ("reason", tuple(PublishBlock)),
    ArtworkRefused: ("rule", tuple(rule for rule in ArtworkRule if rule is not ArtworkRule.FORMAT)),
    ArtworkNotJpegOrPng: ("rule", (ArtworkRule.FORMAT.value,)),
}


def reason_for(exc: PodplusError) -> str | None:
    """The ``error.reason`` of ``exc``: ``PublishRefused(reason="not_ready")`` → "not_ready"."""
    for cls in type(exc).__mro__:
        if cls in ERROR_REASONS:
            return str(getattr(exc, ERROR_REASONS[cls][0]))
    return None


# Starlette's own refusals (no route, wrong method…) answer with the same codes as ours.
_HTTP_CODES = {405: "method_not_allowed"}
for _status, _code in ERROR_ANSWERS.values():
    _HTTP_CODES.setdefault(_status, _code)


def answer_for(exc: PodplusError) -> tuple[int, str]:
    """The (status, code) a podplus error answers with: ``EmailTaken`` → ``(409, "conflict")``."""
    for cls in type(exc).__mro__:
        if cls in ERROR_ANSWERS:
            return ERROR_ANSWERS[cls]
    raise AssertionError("PodplusError is in the table, and every podplus error derives from it")


def error_response(
    status_code: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    reason: str | None = None,
) -> JSONResponse:
    detail = {"code": code, "message": message}
    if reason is not None:
        detail["reason"] = reason
    return JSONResponse({"error": detail}, status_code=status_code, headers=headers)


async def podplus_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PodplusError)
    status_code, code = answer_for(exc)
    if status_code >= 500 and not isinstance(exc, StoreUnavailable):
        # Raised on purpose but with no answer of its own (a SettingsError at run time):
        # a bug to fix, so it is logged like any other.
        return await unexpected_error(request, exc)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequests | StoreUnavailable):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{exc.size_bytes}"
    return error_response(status_code, code, exc.message, headers, reason=reason_for(exc))


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
    # Here (Starlette's outermost handler) the answer is sent and the error raised again,
    # which closes the connection; a database that is down is answered earlier, below.
    if is_unavailable(exc):
        # Not a bug: the database is down or restarting; the same request may work soon.
        logger.warning("event=http.database_unavailable path=%s error=%r", request.url.path, exc)
        return error_response(
            503,
            "database_unavailable",
            "The database does not answer; try again shortly.",
            {**ERROR_HEADERS, "Retry-After": str(DATABASE_RETRY_AFTER_S)},
        )
    # The traceback goes to the log, never to the client.
    logger.exception("event=http.unexpected_error path=%s", request.url.path, exc_info=exc)
    # Sent past the middleware (see ``podplus.web.headers``), so it brings its own headers.
    return error_response(
        500, "internal_error", "Something went wrong on our side.", dict(ERROR_HEADERS)
    )


async def maybe_unavailable(request: Request, exc: Exception) -> Response:
    """A database driver's error: a 503 if it says the database can't be reached, else the
    500 of a bug. Handled inside the app, so the client's connection stays open."""
    if is_unavailable(exc):
        return await unexpected_error(request, exc)
    logger.exception("event=http.unexpected_error path=%s", request.url.path, exc_info=exc)
    return error_response(
        500, "internal_error", "Something went wrong on our side.", dict(ERROR_HEADERS)
    )


EXCEPTION_HANDLERS = {
    PodplusError: podplus_error,
    HTTPException: http_error,
    **dict.fromkeys((*UNAVAILABLE_ERRORS, *MAYBE_UNAVAILABLE_ERRORS), maybe_unavailable),
    Exception: unexpected_error,
}
