"""A podcast app against a real ``podplus serve``: subscribe to the feed, check the
enclosure with HEAD, seek into the middle, read the end, resume, and get told off for a
range past the end. What it plays must be, byte for byte, what was published."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import httpx
import podcastparser
import pytest

from tests.conftest import LiveServer
from tests.media_files import tone
from tests.publishing import APP_USER_AGENT, picture
from tests.test_end_to_end import login, poll_job, upload

pytestmark = pytest.mark.slow


def test_a_podcast_app_subscribes_seeks_and_plays_the_published_audio(
    live_server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = live_server_factory().start()
    base = server.base_url
    auth = login(base)
    show = httpx.post(
        f"{base}/api/shows",
        headers=auth,
        json={
            "title": "Live Show", "description": "Played by an app.", "author": "Ada",
            "owner_name": "Ada", "owner_email": "ada@example.com", "language": "en",
            "category": "Technology", "slug": "live-show",
        },
    ).json()  # fmt: skip
    with picture(tmp_path / "art.jpg").open("rb") as art:
        artwork = httpx.put(
            f"{base}/api/shows/{show['id']}/artwork", headers=auth, files={"file": art}
        )
    assert artwork.status_code == 200, artwork.text
    take = upload(base, auth, tone(tmp_path / "take.wav", seconds=6))
    episode = httpx.post(
        f"{base}/api/episodes",
        headers=auth,
        json={"title": "Pilot", "show_id": show["id"], "segments": [{"media_id": take}]},
    ).json()
    job = httpx.post(f"{base}/api/episodes/{episode['id']}/assemble", headers=auth).json()
    poll_job(base, auth, job["job_id"], lambda j: j["status"] == "succeeded")
    published = httpx.post(f"{base}/api/episodes/{episode['id']}/publish", headers=auth, json={})
    assert published.status_code == 200, published.text
    assembled = httpx.get(f"{base}/api/episodes/{episode['id']}/audio", headers=auth).content

    # The app: no token, its own user agent, from here on.
    app = httpx.Client(headers={"User-Agent": APP_USER_AGENT}, timeout=30)
    feed = app.get(f"{base}/feeds/live-show.xml")
    assert feed.status_code == 200
    # No PODPLUS_PUBLIC_URL: the loopback address the server listens on is the feed's
    # base, whatever Host the request names.
    spoofed = app.get(f"{base}/feeds/live-show.xml", headers={"Host": "evil.example"})
    assert spoofed.content == feed.content and b"evil.example" not in feed.content
    assert f'href="{base}/feeds/live-show.xml"'.encode() in feed.content
    parsed = podcastparser.parse(f"{base}/feeds/live-show.xml", io.BytesIO(feed.content))
    (item,) = parsed["episodes"]
    (enclosure,) = item["enclosures"]
    url, size = enclosure["url"], enclosure["file_size"]
    assert size == len(assembled)

    head = app.head(url)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == size
    assert head.headers["accept-ranges"] == "bytes"
    assert head.headers["content-type"] == enclosure["mime_type"] == "audio/mpeg"

    middle = app.get(url, headers={"Range": f"bytes={size // 2}-{size // 2 + 4095}"})
    assert middle.status_code == 206
    assert middle.headers["content-range"] == f"bytes {size // 2}-{size // 2 + 4095}/{size}"
    assert middle.content == assembled[size // 2 : size // 2 + 4096]
    end = app.get(url, headers={"Range": "bytes=-2048"})
    assert end.status_code == 206 and end.content == assembled[-2048:]
    resumed = app.get(url, headers={"Range": f"bytes={size - 1000}-"})
    assert resumed.content == assembled[-1000:]
    whole = app.get(url)
    assert whole.status_code == 200 and whole.content == assembled

    past = app.get(url, headers={"Range": f"bytes={size + 10}-{size + 20}"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{size}"
    assert past.json()["error"]["code"] == "range_not_satisfiable"

    cover = app.get(parsed["cover_url"])
    assert cover.status_code == 200 and cover.headers["content-type"] == "image/jpeg"

    # All of that was one listener in one day: one download (counted before each answer).
    stats = httpx.get(f"{base}/api/shows/{show['id']}/stats", headers=auth).json()
    assert stats["total"] == 1
    app.close()
