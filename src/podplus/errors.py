"""What can go wrong in podplus, said in podplus's words.

    PodplusError
    ├── SettingsError           a bad PODPLUS_* variable; stops start-up
    ├── BadRequest              the body can't be parsed at all (not JSON, not a form)
    ├── InvalidInput            the content is wrong; names the ``field``
    ├── Unauthorized            no valid credentials
    │   ├── BadCredentials      wrong email or password (we don't say which)
    │   └── TokenInvalid        a bearer token that isn't ours, or is malformed
    │       └── TokenExpired    ours, but past its ``exp``
    ├── Forbidden               known, but not allowed
    ├── NotFound                missing, or someone else's
    ├── Conflict                the current state forbids it
    │   ├── EmailTaken          an account with this ``email`` exists
    │   └── EpisodeBusy         ``episode_id`` has a queued or running job
    ├── PayloadTooLarge         an upload over the configured limit
    ├── UnsupportedMedia        not audio (or not an image, for a cover)
    ├── RangeNotSatisfiable     a byte range outside a file of ``size_bytes``
    └── TooManyRequests         throttled; carries ``retry_after_s``
        └── LoginThrottled      too many failed logins for an account or an address

Storage, security and the jobs raise the specific errors; handlers raise the general
ones. None of them knows about HTTP: ``podplus.web.exceptions`` alone maps each class
(through its nearest listed ancestor) to a status and an error code. The engine has
errors of its own (``podplus.engine.errors``): it is a separate program and reports
through exit codes. Why a *job* failed is not an exception but a value,
``podplus.storage.jobs.FailureCause``.
"""

from __future__ import annotations


class PodplusError(Exception):
    """Base of every error podplus raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SettingsError(PodplusError):
    """A PODPLUS_* environment variable holds a value podplus cannot use."""


class BadRequest(PodplusError):
    """The request body can't be parsed at all."""


class InvalidInput(PodplusError):
    """Well-formed, but its content is wrong; ``field`` names the culprit when one does."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Unauthorized(PodplusError):
    """Missing or bad credentials."""


class BadCredentials(Unauthorized):
    """The email and password don't match an account."""

    def __init__(self, message: str = "Incorrect email or password.") -> None:
        super().__init__(message)


class TokenInvalid(Unauthorized):
    """A bearer token we did not issue, or can't read."""

    def __init__(self, message: str = "The token is not valid.") -> None:
        super().__init__(message)


class TokenExpired(TokenInvalid):
    """A bearer token we issued, past its expiry."""

    def __init__(self, message: str = "The token has expired; log in again.") -> None:
        super().__init__(message)


class Forbidden(PodplusError):
    """The caller is known but may not do this."""


class NotFound(PodplusError):
    """No such thing, or it belongs to someone else (we don't say which)."""


class Conflict(PodplusError):
    """The current state forbids the request."""


class EmailTaken(Conflict):
    """An account with this email already exists."""

    def __init__(self, email: str) -> None:
        super().__init__("An account with this email already exists.")
        self.email = email


class EpisodeBusy(Conflict):
    """The episode has a queued or running job, so it can't be queued or changed now."""

    def __init__(
        self, episode_id: str, message: str = "This episode is already queued or assembling."
    ) -> None:
        super().__init__(message)
        self.episode_id = episode_id


class PayloadTooLarge(PodplusError):
    """The request body passed the configured limit."""


class UnsupportedMedia(PodplusError):
    """The uploaded file is not the kind of media asked for."""


class TooManyRequests(PodplusError):
    """Throttled; the caller may retry after ``retry_after_s`` seconds."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class LoginThrottled(TooManyRequests):
    """Too many failed logins for this account or from this address, lately."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("Too many failed logins; try again later.", retry_after_s=retry_after_s)


class RangeNotSatisfiable(PodplusError):
    """A byte range that starts past the end of a file of ``size_bytes``."""

    def __init__(self, message: str, *, size_bytes: int) -> None:
        super().__init__(message)
        self.size_bytes = size_bytes
