"""The public feed of a show and its episodes' chapters: no token, cacheable, for apps.

``GET /feeds/{feed}.xml`` (the show's feed id or its slug) answers the RSS document with
only the episodes whose publication time has passed, an ``ETag`` and a ``Last-Modified``
(so apps that poll get a 304), gzipped when the app accepts it. The rendering is cached
per show (``podplus.feeds.cache``) until the show's ``feed_changed_at`` moves or a
scheduled episode goes live; a poll costs one query.

A slug the show had before answers ``301`` to its feed now, so subscribers follow it
(apps update a subscription on a permanent redirect), and ``410 Gone`` once the show is
deleted, so they stop asking. No other show can take such a slug.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from email.utils import formatdate

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from podplus.errors import Gone, NotFound
from podplus.feeds.cache import RenderedFeed
from podplus.feeds.chapters import CHAPTERS_MEDIA_TYPE, chapters_document
from podplus.feeds.html import notes_html
from podplus.feeds.items import ENCLOSURE_TYPES
from podplus.feeds.rss import FEED_MEDIA_TYPE, FeedChannel, FeedItem, render_feed
from podplus.storage.publications import FeedEntry
from podplus.storage.shows import Show
from podplus.web.caching_headers import (
    CORS,
    FEED_CACHE_CONTROL,
    IMMUTABLE,
    accepts_gzip,
    not_modified,
)
from podplus.web.public_urls import artwork_url, audio_url, chapters_url, feed_url, public_base
from podplus.web.requests import services

_FEED_KEY = re.compile(r"[a-z0-9-]{1,64}")
_CHAPTERS_NAME = re.compile(r"(?P<stem>[0-9a-f]{32}-[0-9a-f]{24})\.json")


async def show_feed(request: Request) -> Response:
    """The show's podcast feed: RSS 2.0 with the `itunes` and `podcast` namespaces, for
    Apple Podcasts, Spotify and every podcast app. Paste its URL into a directory once;
    new episodes appear as their publication time passes. A slug the show no longer has
    answers 301 to its feed now, or 410 once the show is deleted."""
    key = request.path_params["feed"]
    found = services(request)
    if not _FEED_KEY.fullmatch(key):
        raise NotFound("No such feed.")
    show = await found.shows.by_feed_key(key)
    if show is None:
        return await _moved(request, key)
    now = found.clock()
    base_url = public_base(request)

    async def render() -> RenderedFeed:
        return await _render(request, show, base_url=base_url, now=now)

    feed = await found.feed_cache.get(
        show.id, changed_at=show.feed_changed_at, now=now, render=render
    )
    headers = {
        "ETag": feed.etag,
        "Last-Modified": formatdate(feed.last_modified_s, usegmt=True),
        "Cache-Control": FEED_CACHE_CONTROL,
        "Vary": "Accept-Encoding",
        **CORS,
    }
    if not_modified(request.headers, etag=feed.etag, last_modified_s=feed.last_modified_s):
        return Response(status_code=304, headers=headers)
    body = feed.body
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        body = feed.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, media_type=f"{FEED_MEDIA_TYPE}; charset=utf-8")


async def episode_chapters(request: Request) -> Response:
    """An episode's chapters in the Podcasting 2.0 JSON chapters format, as its feed item's
    `podcast:chapters` points at them."""
    match = _CHAPTERS_NAME.fullmatch(request.path_params["file_name"])
    found = services(request)
    publication = None
    if match is not None:
        names = [match["stem"] + suffix for suffix in ENCLOSURE_TYPES]
        publication = await found.publications.by_audio_name(names)
    if publication is None or not publication.is_live(found.clock()) or not publication.chapters:
        raise NotFound("No such chapters.")
    body = chapters_document(publication.chapters, file_name=publication.audio_name)
    headers = {"Cache-Control": IMMUTABLE, **CORS}
    return Response(body, headers=headers, media_type=CHAPTERS_MEDIA_TYPE)


async def _moved(request: Request, key: str) -> Response:
    """Where a feed that isn't at ``key`` went: 301 to the show's feed now, 410 if the
    show was deleted, 404 if no show ever had ``key``."""
    retired = await services(request).shows.retired_slug(key)
    if retired is None:
        raise NotFound("No such feed.")
    if retired.show is None:
        raise Gone("This show was deleted; its feed is gone for good.")
    return RedirectResponse(
        feed_url(public_base(request), retired.show), status_code=301, headers=CORS
    )


async def _render(request: Request, show: Show, *, base_url: str, now: float) -> RenderedFeed:
    found = services(request)
    entries = await found.publications.live_in(show.id, now=now)
    # Only grows (a publication, an unpublication, an edit each move it forward), and a
    # scheduled episode going live moves it to its time.
    last_modified = max([show.feed_changed_at] + [e.publication.published_at for e in entries])
    body = render_feed(*_feed(show, entries, base_url=base_url, last_modified_s=last_modified))
    digest = hashlib.sha256(body).hexdigest()[:24]
    return RenderedFeed(
        body=body,
        gzipped=gzip.compress(body, mtime=0),
        # The change it renders and its bytes: two renderings of one change that differ
        # (the clock moved a scheduled episode in) have two tags.
        etag=f'W/"{int(show.feed_changed_at * 1000):x}-{digest}"',
        last_modified_s=last_modified,
        valid_until=await found.publications.next_scheduled(show.id, now=now),
    )


def _feed(
    show: Show, entries: list[FeedEntry], *, base_url: str, last_modified_s: float
) -> tuple[FeedChannel, list[FeedItem]]:
    url = feed_url(base_url, show)
    channel = FeedChannel(
        title=show.title,
        description_html=notes_html(show.description),
        link=show.link or url,
        feed_url=url,
        language=show.language,
        author=show.author,
        owner_name=show.owner_name,
        owner_email=show.owner_email,
        category=show.category,
        subcategory=show.subcategory,
        explicit=show.explicit,
        show_type=show.show_type,
        copyright=show.copyright,
        image_url=artwork_url(base_url, show),
        podcast_guid=show.podcast_guid,
        locked=show.locked,
        last_build_at=last_modified_s,
    )
    items = [
        FeedItem(
            guid=entry.guid,
            title=entry.title,
            description_html=notes_html(entry.description),
            published_at=entry.publication.published_at,
            enclosure_url=audio_url(base_url, entry.publication),
            length_bytes=entry.publication.audio_size_bytes,
            media_type=entry.publication.media_type,
            duration_s=entry.publication.duration_s,
            season=entry.publication.season,
            number=entry.publication.number,
            episode_type=entry.publication.episode_type,
            explicit=(
                show.explicit if entry.publication.explicit is None else entry.publication.explicit
            ),
            chapters_url=chapters_url(base_url, entry.publication),
        )
        for entry in entries
    ]
    return channel, items
