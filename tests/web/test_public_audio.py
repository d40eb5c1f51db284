"""Public audio as podcast apps fetch it (no token, any range, cacheable for ever), and
downloads counted as podcast hosts count them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from podplus.settings import Settings
from tests.conftest import register
from tests.publishing import APP_USER_AGENT, Clock, make_show, publish, ready_episode, serving

pytestmark = pytest.mark.slow


async def _published(
    client: httpx.AsyncClient, auth: dict[str, str], tmp_path: Path, *, title: str = "Ep"
) -> tuple[dict[str, Any], dict[str, Any]]:
    show = await make_show(client, auth)
    episode = await ready_episode(client, auth, tmp_path, show_id=show["id"], title=title)
    response = await publish(client, auth, episode["id"])
    assert response.status_code == 200, response.text
    return show, response.json()


async def test_the_public_audio_answers_as_apps_need(settings: Settings, tmp_path: Path) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        _, episode = await _published(client, auth, tmp_path)
        url = episode["publication"]["audio_url"]
        whole = await client.get(url)
        size = len(whole.content)
        assert whole.status_code == 200 and size == episode["publication"]["size_bytes"]
        assert whole.headers["content-length"] == str(size)
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["content-type"] == "audio/mpeg"
        assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
        etag = whole.headers["etag"]
        assert etag.strip('"') in url  # the content's hash, as the name says

        head = await client.head(url)
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == str(size) and head.headers["etag"] == etag

        middle = await client.get(url, headers={"Range": f"bytes={size // 2}-{size // 2 + 99}"})
        assert middle.status_code == 206
        assert middle.content == whole.content[size // 2 : size // 2 + 100]
        assert middle.headers["content-range"] == f"bytes {size // 2}-{size // 2 + 99}/{size}"
        end = await client.get(url, headers={"Range": "bytes=-100"})
        assert end.status_code == 206 and end.content == whole.content[-100:]
        resume = await client.get(url, headers={"Range": f"bytes={size - 10}-"})
        assert resume.content == whole.content[-10:]

        past = await client.get(url, headers={"Range": f"bytes={size}-"})
        assert past.status_code == 416
        assert past.headers["content-range"] == f"bytes */{size}"
        assert past.json()["error"]["code"] == "range_not_satisfiable"

        cached = await client.get(url, headers={"If-None-Match": etag})
        assert (cached.status_code, cached.content) == (304, b"")

        # Names that aren't a published file's are nothing at all.
        stem, _, suffix = url.rpartition(".")
        for wrong in (f"{stem}.m4a", f"{stem[:-1]}0.{suffix}", url.replace("audio", "artwork")):
            assert (await client.get(wrong)).status_code == 404


async def test_one_listener_in_24_hours_is_one_download(settings: Settings, tmp_path: Path) -> None:
    clock = Clock()
    async with serving(settings, clock) as client:
        auth = await register(client)
        show, episode = await _published(client, auth, tmp_path)
        url = episode["publication"]["audio_url"]
        app = {"User-Agent": APP_USER_AGENT}

        # Apple's probe, a HEAD, bots and agentless requests aren't downloads.
        await client.get(url, headers={**app, "Range": "bytes=0-1"})
        await client.head(url, headers=app)
        for bot in ("Googlebot/2.1 (+http://www.google.com/bot.html)", "AhrefsBot/7.0", ""):
            await client.get(url, headers={"User-Agent": bot})
        assert await _downloads(client, auth, episode["id"]) == 0

        # An app reading the file in ranges is one listener: one download.
        for first in range(0, 4000, 1000):
            await client.get(url, headers={**app, "Range": f"bytes={first}-{first + 999}"})
        assert await _downloads(client, auth, episode["id"]) == 1
        # Another app on the same address is another listener.
        await client.get(url, headers={"User-Agent": "Overcast/3.0 (+http://overcast.fm/)"})
        assert await _downloads(client, auth, episode["id"]) == 2

        clock.advance(23 * 3600)
        await client.get(url, headers=app)
        assert await _downloads(client, auth, episode["id"]) == 2
        clock.advance(3600)  # the window has closed
        await client.get(url, headers=app)
        assert await _downloads(client, auth, episode["id"]) == 3

        stats = await client.get(f"/api/shows/{show['id']}/stats", headers=auth)
        assert stats.status_code == 200
        body = stats.json()
        assert (body["since"], body["until"], body["total"]) == ("2026-12-18", "2027-01-16", 3)
        (counted,) = body["episodes"]
        assert (counted["episode_id"], counted["title"], counted["total"]) == (
            episode["id"], "Ep", 3,
        )  # fmt: skip
        assert counted["days"] == [
            {"day": "2027-01-15", "downloads": 2},
            {"day": "2027-01-16", "downloads": 1},
        ]
        one_day = await client.get(
            f"/api/shows/{show['id']}/stats", headers=auth, params={"days": 1}
        )
        assert one_day.json()["total"] == 1
        for wrong in ("0", "3661", "x", "-1"):
            refused = await client.get(
                f"/api/shows/{show['id']}/stats", headers=auth, params={"days": wrong}
            )
            assert refused.status_code == 422

    # What is kept of a listener is a keyed hash: never the address, never the agent.
    database = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    stored = " ".join(str(row) for row in database.execute("SELECT * FROM download_windows"))
    assert stored and "203.0.113" not in stored and "gPodder" not in stored


async def _downloads(client: httpx.AsyncClient, auth: dict[str, str], episode_id: str) -> int:
    episode = (await client.get(f"/api/episodes/{episode_id}", headers=auth)).json()
    return int(episode["publication"]["downloads"])
