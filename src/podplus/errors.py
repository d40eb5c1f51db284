"""What can go wrong in podplus, said in podplus's words.

    PodplusError
    ├── SettingsError           a bad PODPLUS_* variable; stops start-up
    ├── BadRequest              the body can't be parsed at all (not JSON, not a form)
    │   └── ClientGone          the client went away before its upload was stored
    ├── InvalidInput            the content is wrong; names the ``field``
    │   ├── WeakPassword        a password too easy to guess, and why
    │   ├── ArtworkRefused      an image a podcast directory would refuse; the ``rule`` it broke
    │   └── WebhookTargetRefused  a webhook URL that resolves where podplus won't send; ``rule``
    ├── Unauthorized            no valid credentials
    │   ├── BadCredentials      wrong email or password (we don't say which)
    │   └── TokenInvalid        a bearer token that isn't ours, or is malformed
    │       ├── TokenExpired    ours, but past its ``exp``
    │       └── TokenRevoked    ours, but ended early (logout, new password)
    ├── Forbidden               known, but not allowed
    │   └── LinkInvalid         a signed link we did not sign, or not for this file
    │       └── LinkExpired     ours, but past its expiry
    ├── NotFound                missing, or someone else's
    │   └── ObjectMissing       no object under a key in the media store
    ├── Gone                    was here, and is gone for good (a deleted show's feed)
    ├── Conflict                the current state forbids it
    │   ├── EmailTaken          an account with this ``email`` exists
    │   ├── EpisodeBusy         ``episode_id`` has a queued or running job
    │   ├── SlugTaken           another show's feed has this ``slug``
    │   ├── ShowQuotaExceeded   its owner has ``limit`` shows already
    │   ├── PublishRefused      the episode can't be published now; the ``reason`` why
    │   ├── PublicUrlUnset      no PODPLUS_PUBLIC_URL to make a feed's addresses from
    │   └── WebhookQuotaExceeded  its owner has ``limit`` webhooks already
    ├── JobQuotaExceeded        its owner has ``limit`` jobs queued or running already
    ├── WebhookSecretUnreadable a sealed webhook secret this server's key doesn't open
    ├── PayloadTooLarge         an upload over the configured limit
    │   ├── MediaOverLimit      past a limit on what a file may declare or cost; ``limit``
    │   └── MediaQuotaExceeded  would take its owner past a ``quota`` of ``limit``
    ├── UnsupportedMedia        not audio (or not an image, for a cover)
    │   └── ArtworkNotJpegOrPng  artwork of another kind; its ``rule`` is ``format``
    ├── RangeNotSatisfiable     a byte range outside a file of ``size_bytes``
    ├── StoreUnavailable        the media store did not answer in time; ``retry_after_s``
    └── TooManyRequests         throttled; carries ``retry_after_s``
        ├── AnalysisBusy        the owner already has ``limit`` uploads being analysed
        ├── LoginThrottled      too many failed logins for an account or an address
        └── SignupThrottled     too many sign-ups from an address

Storage, security and the jobs raise the specific errors; handlers raise the general
ones. None of them knows about HTTP: ``podplus.web.exceptions`` alone maps each class
(through its nearest listed ancestor) to a status and an error code. The engine has
errors of its own (``podplus.engine.errors``): it is a separate program and reports
through exit codes. Why a *job* failed is not an exception but a value,
``podplus.storage.jobs.FailureCause``.
"""

from __future__ import annotations

from typing import Self


class PodplusError(Exception):
    """Base of every error podplus raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def about(self, part: str) -> Self:
        """This error, its message starting with the ``part`` of a request it concerns
        (``files[1]: The upload can't be read…``); its class and details unchanged."""
        # Not copy.copy: that calls __init__ again, whose keyword-only details it can't pass.
        named = type(self).__new__(type(self))
        named.__dict__.update(self.__dict__)
        named.message = f"{part}: {self.message}"
        named.args = (named.message,)
        return named


class SettingsError(PodplusError):
    """A PODPLUS_* environment variable holds a value podplus cannot use."""


class BadRequest(PodplusError):
    """The request body can't be parsed at all."""


class ClientGone(BadRequest):
    """The client hung up before its upload was stored; no one hears the answer."""

    def __init__(self, message: str = "The client went away before the upload was stored.") -> None:
        super().__init__(message)


class InvalidInput(PodplusError):
    """Well-formed, but its content is wrong; ``field`` names the culprit when one does."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class WeakPassword(InvalidInput):
    """A password a guesser would find soon; ``reason`` says why, for the person choosing it."""

    def __init__(self, reason: str, *, field: str = "password") -> None:
        super().__init__(f"{field}: too easy to guess: {reason}", field=field)
        self.reason = reason


class ArtworkRefused(InvalidInput):
    """Artwork that breaks a directory's ``rule`` (``podplus.feeds.artwork.ArtworkRule``)."""

    def __init__(self, message: str, *, rule: str, field: str = "file") -> None:
        super().__init__(f"{field}: {message}.", field=field)
        self.rule = rule


class WebhookTargetRefused(InvalidInput):
    """A webhook URL whose host podplus won't send to; ``rule`` names why (an
    ``AddressRule`` value of ``podplus.security.targets``, or ``unresolvable``), ``reason``
    says it in words without the field's name (for the delivery log)."""

    def __init__(self, reason: str, *, rule: str) -> None:
        super().__init__(f"url: {reason}", field="url")
        self.reason = reason
        self.rule = rule


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


class TokenRevoked(TokenInvalid):
    """A bearer token we issued, ended before its expiry (logout, a new password)."""

    def __init__(self, message: str = "The token has been revoked; log in again.") -> None:
        super().__init__(message)


class Forbidden(PodplusError):
    """The caller is known but may not do this."""


class LinkInvalid(Forbidden):
    """A signed link (an audio URL) we did not sign, or signed for another file."""

    def __init__(self, message: str = "This link is not valid; ask for a new one.") -> None:
        super().__init__(message)


class LinkExpired(LinkInvalid):
    """A signed link we issued, past its expiry."""

    def __init__(self, message: str = "This link has expired; ask for a new one.") -> None:
        super().__init__(message)


class NotFound(PodplusError):
    """No such thing, or it belongs to someone else (we don't say which)."""


class ObjectMissing(NotFound):
    """No object under a key in the media store (``podplus.storage.objects``)."""


class Gone(PodplusError):
    """It existed, and never will again: apps should stop asking (a deleted show's feed)."""


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


class SlugTaken(Conflict):
    """Another show's feed is already at this slug."""

    def __init__(self, slug: str) -> None:
        super().__init__("slug: another show's feed already has this address; choose another.")
        self.slug = slug


class ShowQuotaExceeded(Conflict):
    """Its owner already has ``limit`` shows."""

    def __init__(self, *, limit: int) -> None:
        super().__init__(f"You have {limit} shows, as many as one account may; delete one first.")
        self.limit = limit


class PublishRefused(Conflict):
    """The episode can't be published as it is; ``reason`` names why (a ``PublishBlock``
    value of ``podplus.storage.publishing``)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class PublicUrlUnset(Conflict):
    """The server has no public address it can trust for feeds (``PODPLUS_PUBLIC_URL``
    unset and not the loopback development default; it listens on ``host``)."""

    def __init__(self, *, host: str) -> None:
        super().__init__(
            "This server has no public address for feeds: set PODPLUS_PUBLIC_URL to the "
            "address listeners reach it at (https://podcasts.example.com) and restart it. "
            f"It listens on {host}, which apps can't be sent to, and a request's Host "
            "header is never trusted for it."
        )
        self.host = host


class WebhookQuotaExceeded(Conflict):
    """Its owner already has ``limit`` webhooks."""

    def __init__(self, *, limit: int) -> None:
        super().__init__(
            f"You have {limit} webhooks, as many as one account may; delete one first."
        )
        self.limit = limit


class WebhookSecretUnreadable(PodplusError):
    """A webhook's sealed signing secret doesn't open with this server's key (the secret
    key changed, or the row was altered); its deliveries can't be signed."""

    def __init__(self, webhook_id: str) -> None:
        super().__init__(
            "The webhook's signing secret can't be read with this server's secret key; "
            "delete the webhook and create it again."
        )
        self.webhook_id = webhook_id


class JobQuotaExceeded(PodplusError):
    """Its owner already has ``limit`` jobs queued or running (the ``active_jobs`` quota)."""

    quota = "active_jobs"

    def __init__(self, *, limit: int) -> None:
        super().__init__(
            f"You have {limit} jobs queued or running, as many as your active jobs quota "
            f"({limit}) allows; assemble this one when one of them is done."
        )
        self.limit = limit


class PayloadTooLarge(PodplusError):
    """The request body passed the configured limit."""


class MediaOverLimit(PayloadTooLarge):
    """An upload past a limit on what a file may declare or cost to analyse.

    ``limit`` names it: ``duration`` or ``analysis_time``.
    """

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class MediaQuotaExceeded(PayloadTooLarge):
    """An upload that would take its owner past a quota: ``storage_bytes``, ``media_files``
    or ``media_duration_s``, whose value is ``limit``."""

    def __init__(self, message: str, *, quota: str, limit: float) -> None:
        super().__init__(message)
        self.quota = quota
        self.limit = limit


class UnsupportedMedia(PodplusError):
    """The uploaded file is not the kind of media asked for."""


class ArtworkNotJpegOrPng(UnsupportedMedia):
    """Artwork that is not one JPEG or PNG image: the directories' ``format`` rule."""

    rule = "format"


class TooManyRequests(PodplusError):
    """Throttled; the caller may retry after ``retry_after_s`` seconds."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AnalysisBusy(TooManyRequests):
    """The owner already has ``limit`` uploads being analysed; one more must wait."""

    def __init__(self, *, limit: int, retry_after_s: int) -> None:
        super().__init__(
            f"You have {limit} uploads being analysed, the most at once; "
            "send this one when one of them is done.",
            retry_after_s=retry_after_s,
        )
        self.limit = limit


class LoginThrottled(TooManyRequests):
    """Too many failed logins for this account or from this address, lately."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("Too many failed logins; try again later.", retry_after_s=retry_after_s)


class SignupThrottled(TooManyRequests):
    """Too many sign-ups from this address, lately (each one costs a password hash)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            "Too many sign-ups from this address; try again later.", retry_after_s=retry_after_s
        )


class RangeNotSatisfiable(PodplusError):
    """A byte range that starts past the end of a file of ``size_bytes``."""

    def __init__(self, message: str, *, size_bytes: int) -> None:
        super().__init__(message)
        self.size_bytes = size_bytes


class StoreUnavailable(PodplusError):
    """The media store (an S3 endpoint) can't be reached, timed out or failed on its side;
    the caller may retry after ``retry_after_s``. Says nothing of endpoint, bucket or key."""

    def __init__(
        self,
        message: str = "The media store does not answer; try again.",
        *,
        retry_after_s: int = 5,
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
