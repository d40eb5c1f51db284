"""The public feed, read by clients nobody here wrote: feedparser, gPodder's podcastparser,
and Apple's rules. Real engine, real files: what the feed says about each episode's audio
must be what the audio is."""

from __future__ import annotations

import gzip
import io
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import feedparser
import httpx
import podcastparser
import pytest

from podplus.settings import Settings
from tests.conftest import register
from tests.feeds.apple_rules import apple_problems
from tests.publishing import (
    Clock,
    make_show,
    picture,
    publish,
    put_artwork,
    ready_episode,
    serving,
)

pytestmark = pytest.mark.slow

NOTES = (
    "We talk <b>engines</b>.\n<script>alert('x')</script>"
    '<a href="javascript:steal()" onclick="steal()">a trap</a> and '
    '<a href="https://example.com/notes">the notes</a>.'
)


async def _published_show(
    client: httpx.AsyncClient, auth: dict[str, str], tmp_path: Path, clock: Clock
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A show with artwork and two published episodes: an mp3 with notes, then an m4a."""
    show = await make_show(client, auth, slug="engine-room", subcategory=None)
    art = await put_artwork(client, auth, show["id"], picture(tmp_path / "art.png"))
    assert art.status_code == 200, art.text
    show = art.json()
    first = await ready_episode(
        client, auth, tmp_path, show_id=show["id"], title="First", description=NOTES
    )
    second = await ready_episode(
        client, auth, tmp_path, show_id=show["id"], title="Second", output_format="m4a"
    )
    published = []
    for episode, number in ((first, 1), (second, 2)):
        response = await publish(client, auth, episode["id"], number=number, season=1)
        assert response.status_code == 200, response.text
        published.append(response.json())
        clock.advance(60)
    return show, published


def _chapters_in(path: Path) -> list[tuple[float, str]]:
    shown = subprocess.run(
        ["ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [
        (round(float(c["start_time"]), 3), c["tags"]["title"])
        for c in json.loads(shown.stdout)["chapters"]
    ]


async def test_feedparser_and_podcastparser_read_every_episode_right(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    async with serving(settings, clock) as client:
        auth = await register(client)
        show, episodes = await _published_show(client, auth, tmp_path, clock)
        feed = await client.get("/feeds/engine-room.xml")
        assert feed.status_code == 200
        assert feed.headers["content-type"] == "application/rss+xml; charset=utf-8"

        parsed = feedparser.parse(
            feed.content, response_headers={"content-type": feed.headers["content-type"]}
        )
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        with caplog.at_level(logging.WARNING, logger="podcastparser"):
            gpodder = podcastparser.parse(show["feed_url"], io.BytesIO(feed.content))
        assert [record.message for record in caplog.records] == []

        assert parsed.feed.title == gpodder["title"] == "The Engine Room"
        assert parsed.feed.language == "en-US"
        assert gpodder["cover_url"] == show["artwork_url"] is not None
        assert gpodder["import_prohibited"] is True  # podcast:locked yes
        # Newest first, as apps list them.
        by_guid = {e["guid"]: e for e in reversed(episodes)}
        assert [entry.id for entry in parsed.entries] == list(by_guid)
        assert [e["guid"] for e in gpodder["episodes"]] == list(by_guid)
        for entry, app_episode, episode in zip(
            parsed.entries, gpodder["episodes"], by_guid.values(), strict=True
        ):
            publication = episode["publication"]
            assert publication["guid"] == episode["guid"] and entry.guidislink is False
            audio = await client.get(publication["audio_url"])
            (enclosure,) = entry.enclosures
            assert enclosure.href == publication["audio_url"]
            assert int(enclosure.length) == len(audio.content) == publication["size_bytes"]
            assert enclosure.type == audio.headers["content-type"] == publication["media_type"]
            assert app_episode["enclosures"] == [
                {
                    "url": publication["audio_url"],
                    "file_size": len(audio.content),
                    "mime_type": publication["media_type"],
                }
            ]
            # itunes:duration is the assembled duration, in whole seconds.
            assert app_episode["total_time"] == round(episode["duration_s"])
            assert int(entry.itunes_duration) == round(episode["duration_s"])
            assert (app_episode["season"], app_episode["type"]) == (1, "full")
            assert app_episode["number"] == int(entry.itunes_episode)
            # Chapters: the JSON file says what the published audio itself holds.
            assert app_episode["chapters_json_url"] == publication["chapters_url"]
            chapters = await client.get(publication["chapters_url"])
            assert chapters.headers["content-type"] == "application/json+chapters"
            stored = tmp_path / f"check{Path(publication['audio_url']).suffix}"
            stored.write_bytes(audio.content)
            document = chapters.json()
            assert document["version"].startswith("1.2")
            assert [(c["startTime"], c["title"]) for c in document["chapters"]] == _chapters_in(
                stored
            )
            assert len(document["chapters"]) == 2
        # Show notes arrive as safe HTML: no script, no handler, no javascript: URL.
        notes = parsed.entries[1].description
        assert "<b>engines</b>" in notes and 'href="https://example.com/notes"' in notes
        for trap in ("<script", "onclick", "javascript:", "alert("):
            assert trap not in notes
            assert trap not in feed.text


async def test_the_feed_keeps_apples_rules(settings: Settings, tmp_path: Path) -> None:
    clock = Clock()
    async with serving(settings, clock) as client:
        auth = await register(client)
        show, _ = await _published_show(client, auth, tmp_path, clock)
        feed = await client.get(show["feed_url"])
        artwork = (await client.get(show["artwork_url"])).content
        assert apple_problems(feed.content, fetch=lambda url: artwork) == []

        # The checker is no formality: each broken rule is named.
        small = picture(tmp_path / "small.png", size="600x600").read_bytes()
        broken = {
            "artwork: must be square, 1400 to 3000 px": (feed.content, small),
            "category: 'Gadgets' is not an Apple Podcasts category": (
                feed.content.replace(b'text="Technology"', b'text="Gadgets"'),
                artwork,
            ),
            "show-explicit: itunes:explicit must be true or false": (
                feed.content.replace(
                    b"<itunes:explicit>false</itunes:explicit>\n    <itunes:author>",
                    b"<itunes:explicit>clean</itunes:explicit>\n    <itunes:author>",
                ),
                artwork,
            ),
            "enclosure-type: 'audio/flac' is not a type Apple takes": (
                feed.content.replace(b'type="audio/mpeg"', b'type="audio/flac"'),
                artwork,
            ),
            "artwork: itunes:image with an href is required": (
                feed.content.replace(b"<itunes:image href=", b"<itunes:picture href="),
                artwork,
            ),
        }
        for rule, (xml, image) in broken.items():
            found = apple_problems(xml, fetch=lambda url, image=image: image)
            assert any(problem.startswith(rule) for problem in found), (rule, found)


async def test_only_episodes_whose_time_has_come_are_in_the_feed(
    settings: Settings, tmp_path: Path
) -> None:
    clock = Clock()
    async with serving(settings, clock) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        now_ep = await ready_episode(client, auth, tmp_path, show_id=show["id"], title="Now")
        later = await ready_episode(client, auth, tmp_path, show_id=show["id"], title="Later")
        assert (await publish(client, auth, now_ep["id"])).status_code == 200
        scheduled = await publish(client, auth, later["id"], published_at="2027-01-16T08:00:00Z")
        assert scheduled.json()["publication"]["status"] == "scheduled"

        def titles(feed: httpx.Response) -> list[str]:
            return [entry.title for entry in feedparser.parse(feed.content).entries]

        assert titles(await client.get(show["feed_url"])) == ["Now"]
        # Its audio and chapters aren't out before it is, either.
        early = scheduled.json()["publication"]
        assert (await client.get(early["audio_url"])).status_code == 404
        assert (await client.get(early["chapters_url"])).status_code == 404

        clock.now = 1_800_000_000 + 86_400  # 2027-01-16 08:00 UTC
        assert titles(await client.get(show["feed_url"])) == ["Later", "Now"]
        assert (await client.get(early["audio_url"])).status_code == 200


async def test_apps_polling_the_feed_get_304_and_gzip(settings: Settings, tmp_path: Path) -> None:
    clock = Clock()
    async with serving(settings, clock) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        episode = await ready_episode(client, auth, tmp_path, show_id=show["id"])
        await publish(client, auth, episode["id"])
        first = await client.get(show["feed_url"], headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in first.headers
        etag, modified = first.headers["etag"], first.headers["last-modified"]

        again = await client.get(show["feed_url"], headers={"If-None-Match": etag})
        assert (again.status_code, again.content) == (304, b"")
        since = await client.get(show["feed_url"], headers={"If-Modified-Since": modified})
        assert since.status_code == 304

        zipped = await client.get(show["feed_url"], headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding"
        assert zipped.content == first.content  # httpx decodes it
        assert int(zipped.headers["content-length"]) < len(first.content)
        async with client.stream(
            "GET", show["feed_url"], headers={"Accept-Encoding": "gzip"}
        ) as raw:
            compressed = b"".join([chunk async for chunk in raw.aiter_raw()])
        assert gzip.decompress(compressed) == first.content

        # A change to the show is a new version of the feed.
        clock.advance(10)
        renamed = await client.patch(
            f"/api/shows/{show['id']}", headers=auth, json={"title": "The Boiler Room"}
        )
        assert renamed.status_code == 200
        changed = await client.get(show["feed_url"], headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert feedparser.parse(changed.content).feed.title == "The Boiler Room"


async def test_a_feed_nobody_made_is_a_json_404(settings: Settings) -> None:
    async with serving(settings) as client:
        for path in ("/feeds/nothing.xml", "/feeds/..%2fetc.xml", "/public/chapters/x.json"):
            response = await client.get(path)
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"


async def test_the_feeds_last_modified_never_goes_back(settings: Settings, tmp_path: Path) -> None:
    clock = Clock()
    async with serving(settings, clock) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        episode = await ready_episode(client, auth, tmp_path, show_id=show["id"])
        # Backdated: its own date is years before the show was made.
        await publish(client, auth, episode["id"], published_at="2020-01-01T00:00:00Z")
        seen = await client.get(show["feed_url"])
        assert len(feedparser.parse(seen.content).entries) == 1

        clock.advance(60)
        unpublished = await client.post(f"/api/episodes/{episode['id']}/unpublish", headers=auth)
        assert unpublished.status_code == 200
        # An app that keeps only the date still hears of the change, and so does one
        # that keeps the tag.
        since = await client.get(
            show["feed_url"], headers={"If-Modified-Since": seen.headers["last-modified"]}
        )
        assert since.status_code == 200
        assert feedparser.parse(since.content).entries == []
        assert _http_date(since) > _http_date(seen)
        tagged = await client.get(show["feed_url"], headers={"If-None-Match": seen.headers["etag"]})
        assert tagged.status_code == 200 and tagged.headers["etag"] != seen.headers["etag"]


async def test_a_cached_feed_shows_every_change_at_once(settings: Settings, tmp_path: Path) -> None:
    clock = Clock()
    async with serving(settings, clock) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        episode = await ready_episode(client, auth, tmp_path, show_id=show["id"], title="Old")
        await publish(client, auth, episode["id"])
        first = await client.get(show["feed_url"])
        # Polled again, unchanged: the same bytes (from the cache).
        assert (await client.get(show["feed_url"])).content == first.content
        # A published episode's new title is in the feed as soon as it is saved (its
        # frozen audio stays), whatever the clock says.
        renamed = await client.patch(
            f"/api/episodes/{episode['id']}", headers=auth, json={"title": "New"}
        )
        assert renamed.status_code == 200
        titles = [
            entry.title
            for entry in feedparser.parse((await client.get(show["feed_url"])).content).entries
        ]
        assert titles == ["New"]


def _http_date(response: httpx.Response) -> float:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(response.headers["last-modified"]).timestamp()
