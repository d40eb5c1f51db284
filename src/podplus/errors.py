"""The errors podplus raises on the web side, and the HTTP answer each one maps to.

    PodplusError
    ├── SettingsError        a bad PODPLUS_* variable; stops start-up (not an HTTP error)
    ├── BadRequest           400  the body can't be parsed (not JSON, not a form)
    ├── InvalidInput         422  the request's content is wrong; names the field
    ├── Unauthorized         401  no valid bearer token, or wrong email/password
    ├── Forbidden            403  authenticated, but not allowed
    ├── NotFound             404  missing, or someone else's
    ├── Conflict             409  the state forbids it now (email taken, job running…)
    ├── PayloadTooLarge      413  an upload over PODPLUS_MAX_UPLOAD_MB
    ├── UnsupportedMedia     415  not audio (or not an image, for a cover)
    └── TooManyRequests      429  login throttled; carries ``retry_after_s``

``podplus.web.exceptions`` turns each into ``{"error": {"code", "message"}}`` with the
class's status. The engine has its own errors (``podplus.engine.errors``): it is a
separate program and reports through exit codes.
"""

from __future__ import annotations


class PodplusError(Exception):
    """Base of every error podplus raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SettingsError(PodplusError):
    """A PODPLUS_* environment variable holds a value podplus cannot use."""

    code = "bad_setting"


class BadRequest(PodplusError):
    """The request body can't be parsed at all."""

    status_code = 400
    code = "bad_request"


class InvalidInput(PodplusError):
    """The request is well-formed HTTP but its content is wrong."""

    status_code = 422
    code = "invalid_input"


class Unauthorized(PodplusError):
    """Missing or bad credentials."""

    status_code = 401
    code = "unauthorized"


class Forbidden(PodplusError):
    """The caller is known but may not do this."""

    status_code = 403
    code = "forbidden"


class NotFound(PodplusError):
    """No such thing, or it belongs to someone else (we don't say which)."""

    status_code = 404
    code = "not_found"


class Conflict(PodplusError):
    """The current state forbids the request."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(PodplusError):
    """The request body passed the configured limit."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedMedia(PodplusError):
    """The uploaded file is not the kind of media asked for."""

    status_code = 415
    code = "unsupported_media"


class TooManyRequests(PodplusError):
    """Throttled; the client may retry after ``retry_after_s`` seconds."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
