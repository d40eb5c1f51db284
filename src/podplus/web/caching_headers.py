"""The caching and sharing headers of what podcast apps fetch, and the conditional
requests they send, in one place for the feed, the chapters, the audio and the artwork.

- A public file (audio, chapters, artwork) is immutable under its name, which holds its
  content's hash: cached for a year, ``immutable``, its ETag that hash.
- A feed changes: cached for a few minutes, revalidated with ``If-None-Match`` (its ETag)
  or, from apps that keep only the date, ``If-Modified-Since``.
- Web players fetch all of them from other origins: ``Access-Control-Allow-Origin: *``
  (nothing here depends on a cookie or a token).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from starlette.datastructures import Headers

IMMUTABLE = "public, max-age=31536000, immutable"
# Apps poll feeds; a few minutes of caching spares the server and delays nothing much.
FEED_CACHE_CONTROL = "public, max-age=300"
CORS = {"Access-Control-Allow-Origin": "*"}


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (RFC 9110's weak comparison: ``W/`` aside).

    >>> etag_matches('W/"a", "b"', '"b"'), etag_matches('"a"', 'W/"a"'), etag_matches(None, '"a"')
    (True, True, False)
    """
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def not_modified(headers: Headers, *, etag: str, last_modified_s: float | None = None) -> bool:
    """RFC 9110 §13.2.2: ``If-None-Match`` when sent, else ``If-Modified-Since`` (when the
    answer has a date). A date that can't be read is ignored, as the RFC says."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return etag_matches(if_none_match, etag)
    if_modified_since = headers.get("if-modified-since")
    if not if_modified_since or last_modified_s is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return int(last_modified_s) <= since


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` takes gzip (with a quality above 0).

    >>> accepts_gzip("gzip, deflate"), accepts_gzip("gzip;q=0"), accepts_gzip("br")
    (True, False, False)
    """
    for part in accept_encoding.split(","):
        coding, _, parameters = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            quality = parameters.strip().removeprefix("q=").strip()
            try:
                return not parameters.strip() or float(quality) > 0
            except ValueError:
                return False
    return False
