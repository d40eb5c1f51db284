"""The feed document: RSS 2.0 with the ``itunes`` and Podcasting 2.0 ``podcast`` namespaces.

Written with lxml rather than a feed library: feedgen, the maintained one, has no
``podcast`` namespace, and lxml gives what a feed needs and string templates don't —
namespaces declared once on ``<rss>``, every value escaped, CDATA for HTML descriptions
(as Apple asks), and a well-formed document by construction. ``render_feed`` is a pure
function of the show and its items; what goes in them (only published items, exact
lengths, sanitised notes) is decided by the caller.

The ``podcast`` prefix is bound to the namespace's GitHub URI, which the specification
says every client must treat as identical to ``https://podcastindex.org/namespace/1.0``;
it is the one older parsers (gPodder's podcastparser) know.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from lxml import etree

from podplus.feeds.chapters import CHAPTERS_MEDIA_TYPE
from podplus.feeds.html import xml_text

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"
ATOM_NS = "http://www.w3.org/2005/Atom"
NAMESPACES = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "atom": ATOM_NS}
FEED_MEDIA_TYPE = "application/rss+xml"
GENERATOR = "podplus"


@dataclass(frozen=True, kw_only=True)
class FeedChannel:
    """The show, as the feed says it. ``description_html`` is sanitised already."""

    title: str
    description_html: str
    link: str
    feed_url: str
    language: str
    author: str
    owner_name: str
    owner_email: str
    category: str
    subcategory: str | None
    explicit: bool
    show_type: str
    copyright: str | None
    image_url: str | None
    podcast_guid: str
    locked: bool
    last_build_at: float


@dataclass(frozen=True, kw_only=True)
class FeedItem:
    """One published episode. ``description_html`` is sanitised already."""

    guid: str
    title: str
    description_html: str
    published_at: float
    enclosure_url: str
    length_bytes: int
    media_type: str
    duration_s: float
    season: int | None
    number: int | None
    episode_type: str
    explicit: bool
    chapters_url: str | None


def rfc2822(epoch_s: float) -> str:
    """A moment as RSS dates it (RFC 2822, in GMT).

    >>> rfc2822(0)
    'Thu, 01 Jan 1970 00:00:00 GMT'
    """
    return format_datetime(dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC), usegmt=True)


def render_feed(channel: FeedChannel, items: Sequence[FeedItem]) -> bytes:
    """The whole feed as UTF-8 XML, items in the order given (newest first, for apps)."""
    rss = etree.Element("rss", nsmap=NAMESPACES, version="2.0")  # type: ignore[dict-item]
    root = etree.SubElement(rss, "channel")
    _text(root, "title", channel.title)
    _html(root, "description", channel.description_html)
    _text(root, "link", channel.link)
    _empty(root, _q(ATOM_NS, "link"), href=channel.feed_url, rel="self", type=FEED_MEDIA_TYPE)
    _text(root, "language", channel.language)
    _text(root, "generator", GENERATOR)
    _text(root, "lastBuildDate", rfc2822(channel.last_build_at))
    if channel.copyright:
        _text(root, "copyright", channel.copyright)
    if channel.image_url:
        image = etree.SubElement(root, "image")
        _text(image, "url", channel.image_url)
        _text(image, "title", channel.title)
        _text(image, "link", channel.link)
        _empty(root, _q(ITUNES_NS, "image"), href=channel.image_url)
    category = _empty(root, _q(ITUNES_NS, "category"), text=channel.category)
    if channel.subcategory:
        _empty(category, _q(ITUNES_NS, "category"), text=channel.subcategory)
    _text(root, _q(ITUNES_NS, "explicit"), _truth(channel.explicit))
    _text(root, _q(ITUNES_NS, "author"), channel.author)
    owner = etree.SubElement(root, _q(ITUNES_NS, "owner"))
    _text(owner, _q(ITUNES_NS, "name"), channel.owner_name)
    _text(owner, _q(ITUNES_NS, "email"), channel.owner_email)
    _text(root, _q(ITUNES_NS, "type"), channel.show_type)
    _text(root, _q(PODCAST_NS, "guid"), channel.podcast_guid)
    _text(
        root,
        _q(PODCAST_NS, "locked"),
        "yes" if channel.locked else "no",
        owner=channel.owner_email,
    )
    for item in items:
        _item(root, item)
    return etree.tostring(rss, xml_declaration=True, encoding="UTF-8", pretty_print=True)  # type: ignore[no-any-return]


def _item(channel: Any, item: FeedItem) -> None:
    element = etree.SubElement(channel, "item")
    _text(element, "title", item.title)
    _html(element, "description", item.description_html)
    _text(element, "guid", item.guid, isPermaLink="false")
    _text(element, "pubDate", rfc2822(item.published_at))
    _empty(
        element,
        "enclosure",
        url=item.enclosure_url,
        length=str(item.length_bytes),
        type=item.media_type,
    )
    _text(element, _q(ITUNES_NS, "duration"), str(max(0, round(item.duration_s))))
    if item.season is not None:
        _text(element, _q(ITUNES_NS, "season"), str(item.season))
    if item.number is not None:
        _text(element, _q(ITUNES_NS, "episode"), str(item.number))
    _text(element, _q(ITUNES_NS, "episodeType"), item.episode_type)
    _text(element, _q(ITUNES_NS, "explicit"), _truth(item.explicit))
    if item.chapters_url:
        _empty(element, _q(PODCAST_NS, "chapters"), url=item.chapters_url, type=CHAPTERS_MEDIA_TYPE)


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _truth(value: bool) -> str:
    return "true" if value else "false"


def _empty(parent: Any, tag: str, **attributes: str) -> Any:
    """An element with attributes only (``text`` here is an attribute, as in itunes:category)."""
    return etree.SubElement(parent, tag, {name: xml_text(v) for name, v in attributes.items()})


def _text(parent: Any, tag: str, text: str, **attributes: str) -> Any:
    element = _empty(parent, tag, **attributes)
    element.text = xml_text(text)
    return element


def _html(parent: Any, tag: str, html: str) -> None:
    element = etree.SubElement(parent, tag)
    html = xml_text(html)
    # CDATA as Apple asks; a "]]>" in the text would end it, so such HTML goes escaped.
    element.text = etree.CDATA(html) if html and "]]>" not in html else html
