"""The public addresses a show has: its feed, its episodes' audio and chapters, its artwork.

Every URL a feed carries is absolute, so it needs the server's public base, and that base
is never taken from a request: a client chooses its ``Host`` header, and a feed (and the
``podcast:guid`` fixed from its first URL) that echoed it could be pointed anywhere by
whoever fetched it first. The base is, in order:

1. ``PODPLUS_PUBLIC_URL``, where listeners reach the server (behind a proxy, always);
2. else, for the embedded development default only (``make dev``: a loopback address,
   no trusted proxy), the address the server listens on, ``http://127.0.0.1:8000``;
3. else there is none to trust: creating a show and publishing are refused with a 409
   that names ``PODPLUS_PUBLIC_URL`` (``require_public_base``).
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

from podplus.errors import PublicUrlUnset
from podplus.feeds.identity import podcast_guid
from podplus.settings import Settings
from podplus.storage.publications import Publication
from podplus.storage.shows import Show

FEED_PATH = "/feeds/{feed}.xml"
AUDIO_PATH = "/public/audio/{file_name}"
CHAPTERS_PATH = "/public/chapters/{file_name}"
ARTWORK_PATH = "/public/artwork/{file_name}"


def bound_base(settings: Settings) -> str:
    """``http://127.0.0.1:8000``: the address ``podplus serve`` listens on, as a URL."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


def trusted_base(settings: Settings) -> str | None:
    """The public base this server may put in feeds, or None when it has none it can
    trust (see the module's docstring)."""
    if settings.public_url:
        return settings.public_url
    if _is_loopback(settings.host) and not settings.forwarded_allow_ips:
        return bound_base(settings)
    return None


def require_public_base(settings: Settings) -> str:
    """``trusted_base``, or ``PublicUrlUnset`` for the things that fix a public URL for
    good (a show's ``podcast:guid``) or hand it to apps (publishing)."""
    base = trusted_base(settings)
    if base is None:
        raise PublicUrlUnset(host=settings.host)
    return base


def public_base(request: Request) -> str:
    """The base of the URLs this server's answers carry: ``trusted_base``, else (only
    where a setting changed after shows were made) the listening address. Never the
    request's own host."""
    settings: Settings = request.app.state.services.settings
    return trusted_base(settings) or bound_base(settings)


def feed_url(base: str, show: Show) -> str:
    """The feed's address: at its slug when it has one, else at its feed id."""
    return base + FEED_PATH.format(feed=show.slug or show.feed_id)


def first_feed_guid(base: str, feed_key: str) -> str:
    """The ``podcast:guid`` a new show gets, from the feed URL it starts with; it keeps it
    whatever its address becomes."""
    return podcast_guid(base + FEED_PATH.format(feed=feed_key))


def audio_url(base: str, publication: Publication) -> str:
    return base + AUDIO_PATH.format(file_name=publication.audio_name)


def chapters_url(base: str, publication: Publication) -> str | None:
    if not publication.chapters:
        return None
    return base + CHAPTERS_PATH.format(file_name=f"{publication.digest_stem}.json")


def artwork_url(base: str, show: Show) -> str | None:
    if not show.artwork_name:
        return None
    return base + ARTWORK_PATH.format(file_name=show.artwork_name)


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine alone.

    >>> _is_loopback("127.0.0.1"), _is_loopback("localhost"), _is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
