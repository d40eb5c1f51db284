"""Apple's rules for podcast feeds, checked from the outside: the XML as an app receives it,
the artwork as ffprobe reads it. Written from Apple's "A Podcaster's Guide to RSS"
(Podcasts Connect help) and "Apple Podcasts categories", independently of podplus's own
feed code, so a feed podplus gets wrong fails here.

``apple_problems`` returns one ``"<rule>: <what is wrong>"`` per broken rule; an empty
list is a feed Apple's validation takes.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
# Apple Podcasts categories (podcasters.apple.com/support/1691), transcribed here on purpose.
CATEGORIES = {
    "Arts": "Books|Design|Fashion & Beauty|Food|Performing Arts|Visual Arts",
    "Business": "Careers|Entrepreneurship|Investing|Management|Marketing|Non-Profit",
    "Comedy": "Comedy Interviews|Improv|Stand-Up",
    "Education": "Courses|How To|Language Learning|Self-Improvement",
    "Fiction": "Comedy Fiction|Drama|Science Fiction",
    "Government": "",
    "History": "",
    "Health & Fitness": "Alternative Health|Fitness|Medicine|Mental Health|Nutrition|Sexuality",
    "Kids & Family": "Education for Kids|Parenting|Pets & Animals|Stories for Kids",
    "Leisure": "Animation & Manga|Automotive|Aviation|Crafts|Games|Hobbies|Home & Garden|"
    "Video Games",
    "Music": "Music Commentary|Music History|Music Interviews",
    "News": "Business News|Daily News|Entertainment News|News Commentary|Politics|Sports News|"
    "Tech News",
    "Religion & Spirituality": "Buddhism|Christianity|Hinduism|Islam|Judaism|Religion|Spirituality",
    "Science": "Astronomy|Chemistry|Earth Sciences|Life Sciences|Mathematics|Natural Sciences|"
    "Nature|Physics|Social Sciences",
    "Society & Culture": "Documentary|Personal Journals|Philosophy|Places & Travel|Relationships",
    "Sports": "Baseball|Basketball|Cricket|Fantasy Sports|Football|Golf|Hockey|Rugby|Running|"
    "Soccer|Swimming|Tennis|Volleyball|Wilderness|Wrestling",
    "Technology": "",
    "True Crime": "",
    "TV & Film": "After Shows|Film History|Film Interviews|Film Reviews|TV Reviews",
}
# <enclosure type>: "audio/x-m4a, audio/mpeg, video/quicktime, video/mp4, video/x-m4v, and
# application/pdf"; the URL's extension must be one of the supported formats.
ENCLOSURE_TYPES = {
    "audio/x-m4a": ".m4a",
    "audio/mpeg": ".mp3",
    "video/quicktime": ".mov",
    "video/mp4": ".mp4",
    "video/x-m4v": ".m4v",
    "application/pdf": ".pdf",
}
EXPLICIT_VALUES = {"true", "false"}
EPISODE_TYPES = {"full", "trailer", "bonus"}
MAX_DESCRIPTION_BYTES = 4000
MAX_VALUE_CHARS = 255
LANGUAGE = re.compile(r"[a-z]{2}(-[a-z0-9]{2,8})*", re.IGNORECASE)

Fetch = Callable[[str], bytes]


def apple_problems(feed: bytes, *, fetch: Fetch) -> list[str]:
    """Every rule ``feed`` breaks; ``fetch(url)`` returns the bytes at a URL (the artwork)."""
    problems: list[str] = []
    try:
        root = ElementTree.fromstring(feed)
    except ElementTree.ParseError as exc:
        return [f"xml: not well-formed: {exc}"]
    if root.tag != "rss" or root.get("version") != "2.0":
        problems.append('rss-2.0: the root must be <rss version="2.0">')
    if f'xmlns:itunes="{ITUNES}"'.encode() not in feed:
        problems.append(f'itunes-namespace: declare xmlns:itunes="{ITUNES}" exactly')
    channel = root.find("channel")
    if channel is None:
        return [*problems, "channel: no <channel>"]
    problems += _show_problems(channel, fetch)
    items = channel.findall("item")
    if not items:
        problems.append("episodes: a feed needs at least one episode to be submitted")
    guids: set[str] = set()
    serial = (channel.findtext(f"{{{ITUNES}}}type") or "").strip() == "serial"
    for index, item in enumerate(items):
        problems += [f"{rule} (item {index})" for rule in _item_problems(item, guids, serial)]
    return problems


def _show_problems(channel: ElementTree.Element, fetch: Fetch) -> list[str]:
    problems = []
    title = (channel.findtext("title") or "").strip()
    if not title:
        problems.append("show-title: <title> is required")
    elif len(title) > MAX_VALUE_CHARS:
        problems.append(f"show-title: over {MAX_VALUE_CHARS} characters")
    description = channel.findtext("description") or ""
    if not description.strip():
        problems.append("show-description: <description> is required")
    elif len(description.encode()) > MAX_DESCRIPTION_BYTES:
        problems.append(f"show-description: over {MAX_DESCRIPTION_BYTES} bytes")
    language = (channel.findtext("language") or "").strip()
    if not LANGUAGE.fullmatch(language):
        problems.append(f"language: {language!r} is not an ISO 639 code (en, en-us)")
    explicit = (channel.findtext(f"{{{ITUNES}}}explicit") or "").strip()
    if explicit not in EXPLICIT_VALUES:
        problems.append(f"show-explicit: itunes:explicit must be true or false, not {explicit!r}")
    problems += _category_problems(channel)
    image = channel.find(f"{{{ITUNES}}}image")
    href = "" if image is None else (image.get("href") or "")
    if not href:
        problems.append("artwork: itunes:image with an href is required")
    else:
        problems += _artwork_problems(href, fetch)
    if not (channel.findtext("link") or "").strip():
        problems.append("show-link: <link> is recommended")
    author = channel.findtext(f"{{{ITUNES}}}author")
    if not (author or "").strip():
        problems.append("show-author: itunes:author is recommended")
    return problems


def _category_problems(channel: ElementTree.Element) -> list[str]:
    categories = channel.findall(f"{{{ITUNES}}}category")
    if not categories:
        return ["category: itunes:category is required"]
    problems = []
    for category in categories:
        name = category.get("text") or ""
        if name not in CATEGORIES:
            problems.append(f"category: {name!r} is not an Apple Podcasts category")
            continue
        allowed = set(filter(None, CATEGORIES[name].split("|")))
        for sub in category.findall(f"{{{ITUNES}}}category"):
            if sub.get("text") not in allowed:
                problems.append(f"category: {sub.get('text')!r} is not a subcategory of {name}")
    return problems


def _artwork_problems(href: str, fetch: Fetch) -> list[str]:
    extension = Path(urlsplit(href).path).suffix.lower()
    if extension not in (".jpg", ".jpeg", ".png"):
        return [f"artwork: the URL must end in .jpg or .png, not {extension or 'nothing'}"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"artwork{extension}"
        path.write_bytes(fetch(href))
        shown = subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
            capture_output=True,
            text=True,
        )
    streams = json.loads(shown.stdout or "{}").get("streams") or [{}]
    stream = streams[0]
    problems = []
    codec = stream.get("codec_name")
    if codec not in ("mjpeg", "png") or (codec == "png") != (extension == ".png"):
        problems.append(f"artwork: must be JPEG or PNG with the matching extension, not {codec}")
    width, height = stream.get("width", 0), stream.get("height", 0)
    if width != height or not 1400 <= width <= 3000:
        problems.append(f"artwork: must be square, 1400 to 3000 px; it is {width}×{height}")
    if str(stream.get("pix_fmt", "")).startswith(("gray", "ya", "mono", "cmyk", "ycck")):
        problems.append(f"artwork: must be RGB, not {stream.get('pix_fmt')}")
    return problems


def _item_problems(item: ElementTree.Element, guids: set[str], serial: bool) -> list[str]:
    problems = []
    title = (item.findtext("title") or "").strip()
    if not title:
        problems.append("episode-title: <title> is required")
    elif len(title) > MAX_VALUE_CHARS:
        problems.append(f"episode-title: over {MAX_VALUE_CHARS} characters")
    enclosure = item.find("enclosure")
    if enclosure is None:
        problems.append("enclosure: <enclosure> is required")
    else:
        media_type = enclosure.get("type") or ""
        url = enclosure.get("url") or ""
        if media_type not in ENCLOSURE_TYPES:
            problems.append(f"enclosure-type: {media_type!r} is not a type Apple takes")
        elif Path(urlsplit(url).path).suffix.lower() != ENCLOSURE_TYPES[media_type]:
            problems.append(f"enclosure-type: the URL's extension doesn't match {media_type}")
        if urlsplit(url).scheme not in ("http", "https"):
            problems.append("enclosure-url: must be an http(s) URL")
        if not (enclosure.get("length") or "").isdigit() or int(enclosure.get("length") or 0) <= 0:
            problems.append("enclosure-length: must be the file's size in bytes")
    guid = (item.findtext("guid") or "").strip()
    if not guid:
        problems.append("guid: each episode needs a <guid>")
    elif guid in guids:
        problems.append(f"guid: {guid} appears twice")
    guids.add(guid)
    published = item.findtext("pubDate") or ""
    try:
        parsedate_to_datetime(published)
    except (TypeError, ValueError):
        problems.append(f"pubDate: {published!r} is not an RFC 2822 date")
    if len((item.findtext("description") or "").encode()) > MAX_DESCRIPTION_BYTES:
        problems.append(f"episode-description: over {MAX_DESCRIPTION_BYTES} bytes")
    explicit = item.findtext(f"{{{ITUNES}}}explicit")
    if explicit is not None and explicit.strip() not in EXPLICIT_VALUES:
        problems.append(f"episode-explicit: must be true or false, not {explicit!r}")
    duration = (item.findtext(f"{{{ITUNES}}}duration") or "").strip()
    if not re.fullmatch(r"\d+|(\d+:)?\d{1,2}:\d{2}", duration):
        problems.append(f"duration: itunes:duration {duration!r} is not seconds or [HH:]MM:SS")
    episode_type = item.findtext(f"{{{ITUNES}}}episodeType")
    if episode_type is not None and episode_type.strip() not in EPISODE_TYPES:
        problems.append(f"episode-type: {episode_type!r} is not full, trailer or bonus")
    for tag in ("episode", "season"):
        value = item.findtext(f"{{{ITUNES}}}{tag}")
        if value is not None and not (value.strip().isdigit() and int(value) > 0):
            problems.append(f"episode-number: itunes:{tag} must be a whole number above 0")
    if serial and item.findtext(f"{{{ITUNES}}}episode") is None:
        problems.append("serial: every episode of a serial show needs itunes:episode")
    return problems
