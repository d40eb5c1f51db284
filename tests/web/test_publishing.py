"""Publishing: only a ready episode of a show, its audio frozen under a URL that never
serves other bytes, its GUID kept for ever, and nothing public left behind when it goes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import feedparser
import pytest

from podplus.settings import Settings
from tests.conftest import PASSWORD, register
from tests.media_files import tone
from tests.publishing import (
    Clock,
    assemble,
    files_under,
    make_show,
    publish,
    ready_episode,
    serving,
    upload_audio,
)

pytestmark = pytest.mark.slow


def _rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    database = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    try:
        return database.execute(sql).fetchall()
    finally:
        database.close()


async def test_a_published_episodes_audio_is_frozen_until_it_is_published_again(
    settings: Settings, tmp_path: Path
) -> None:
    clock = Clock()
    async with serving(settings, clock) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        episode = await ready_episode(client, auth, tmp_path, show_id=show["id"])
        assembled = (await client.get(episode["audio_url"], headers=auth)).content

        first = await publish(client, auth, episode["id"])
        assert first.status_code == 200, first.text
        publication = first.json()["publication"]
        guid = first.json()["guid"]
        assert publication["guid"] == guid and publication["status"] == "published"
        assert publication["audio_outdated"] is False
        public = (await client.get(publication["audio_url"])).content
        assert public == assembled and publication["size_bytes"] == len(assembled)

        # A new assembly (louder, at another bitrate) changes nothing in the feed.
        changed = await client.patch(
            f"/api/episodes/{episode['id']}",
            headers=auth,
            json={"output": {"format": "mp3", "bitrate_kbps": 64}},
        )
        assert changed.status_code == 200, changed.text
        await assemble(client, auth, episode["id"])
        now = (await client.get(f"/api/episodes/{episode['id']}", headers=auth)).json()
        reassembled = (await client.get(now["audio_url"], headers=auth)).content
        assert reassembled != assembled
        assert now["publication"]["audio_url"] == publication["audio_url"]
        assert now["publication"]["audio_outdated"] is True
        assert (await client.get(publication["audio_url"])).content == assembled
        feed = feedparser.parse((await client.get(show["feed_url"])).content)
        assert feed.entries[0].enclosures[0].href == publication["audio_url"]

        # Publishing again serves the new audio under a new URL; the episode stays itself.
        clock.advance(3600)
        again = await publish(client, auth, episode["id"])
        republished = again.json()["publication"]
        assert again.json()["guid"] == guid == republished["guid"]
        assert republished["audio_url"] != publication["audio_url"]
        assert republished["published_at"] == publication["published_at"]  # not a new episode
        assert republished["audio_outdated"] is False
        assert (await client.get(republished["audio_url"])).content == reassembled
        assert (await client.get(publication["audio_url"])).status_code == 404
        assert len(files_under(settings.media_root / "public" / "audio")) == 1
        feed = feedparser.parse((await client.get(show["feed_url"])).content)
        assert [(e.id, int(e.enclosures[0].length)) for e in feed.entries] == [
            (guid, len(reassembled))
        ]

        # Out of the feed and back: the same GUID, so apps see the same episode.
        out = await client.post(f"/api/episodes/{episode['id']}/unpublish", headers=auth)
        assert out.status_code == 200 and out.json()["publication"] is None
        assert out.json()["guid"] == guid
        assert (await client.get(republished["audio_url"])).status_code == 404
        assert files_under(settings.media_root / "public" / "audio") == []
        assert feedparser.parse((await client.get(show["feed_url"])).content).entries == []
        back = await publish(client, auth, episode["id"])
        assert back.json()["publication"]["guid"] == guid


async def test_only_a_ready_mp3_or_m4a_episode_of_a_show_can_be_published(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        take = await upload_audio(client, auth, tone(tmp_path / "t.wav", seconds=1))
        draft = await client.post(
            "/api/episodes",
            headers=auth,
            json={"title": "Draft", "show_id": show["id"], "segments": [{"media_id": take}]},
        )
        refused = await publish(client, auth, draft.json()["id"])
        assert refused.status_code == 409
        assert refused.json()["error"]["message"].startswith("Only a ready episode")
        # Each refusal's cause is a value too, for clients to branch on.
        assert refused.json()["error"]["reason"] == "not_ready"

        loose = await ready_episode(client, auth, tmp_path, show_id=None, title="Loose")
        refused = await publish(client, auth, loose["id"])
        assert refused.status_code == 409 and "no show" in refused.json()["error"]["message"]
        assert refused.json()["error"]["reason"] == "no_show"

        flac = await ready_episode(
            client, auth, tmp_path, show_id=show["id"], title="Flac", output_format="flac"
        )
        refused = await publish(client, auth, flac["id"])
        assert refused.status_code == 409 and "mp3 or m4a" in refused.json()["error"]["message"]
        assert refused.json()["error"]["reason"] == "format"

        eve = await register(client, "eve@example.com")
        assert (await publish(client, eve, loose["id"])).status_code == 404

        assert files_under(settings.media_root / "public") == []
        assert _rows(settings, "SELECT count(*) FROM publications") == [(0,)]
        assert _rows(settings, "SELECT count(*) FROM episodes WHERE guid IS NOT NULL") == [(0,)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"published_at": "tomorrow"}, "published_at"),
        ({"published_at": "2027-01-16T08:00:00"}, "published_at"),  # no time zone
        ({"published_at": "1969-12-31T23:59:59Z"}, "published_at"),
        ({"published_at": "1970-01-01T00:59:59+01:00"}, "published_at"),
        # In the year 10000 in UTC: no date type can show it back.
        ({"published_at": "9999-12-31T23:00:00-05:00"}, "published_at"),
        ({"published_at": "9999-12-31T00:00:01Z"}, "published_at"),
        ({"published_at": "0001-01-01T00:00:00+01:00"}, "published_at"),
        ({"season": 0}, "season"),
        ({"number": -1}, "number"),
        ({"number": 1.5}, "number"),
        ({"episode_type": "teaser"}, "episode_type"),
        ({"explicit": "yes"}, "explicit"),
        ({"guid": "mine"}, "guid"),
    ],
)
async def test_a_wrong_publish_request_names_its_field_and_publishes_nothing(
    settings: Settings, tmp_path: Path, body: dict[str, object], field: str
) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        take = await upload_audio(client, auth, tone(tmp_path / "t.wav", seconds=1))
        episode = await client.post(
            "/api/episodes",
            headers=auth,
            json={"title": "E", "show_id": show["id"], "segments": [{"media_id": take}]},
        )
        response = await publish(client, auth, episode.json()["id"], **body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith(f"{field}:")
        assert _rows(settings, "SELECT count(*) FROM publications") == [(0,)]


async def test_what_a_feed_cannot_carry_is_refused_before_publishing(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        serial = await make_show(client, auth, type="serial")
        long_title = "T" * 256
        episode = await ready_episode(client, auth, tmp_path, show_id=serial["id"], title="Ok")
        numberless = await publish(client, auth, episode["id"])
        assert numberless.status_code == 422
        assert numberless.json()["error"]["message"].startswith("number:")
        renamed = await client.patch(
            f"/api/episodes/{episode['id']}", headers=auth, json={"title": long_title}
        )
        assert renamed.status_code == 200
        await assemble(client, auth, episode["id"])
        too_long = await publish(client, auth, episode["id"], number=1)
        assert too_long.status_code == 422
        assert too_long.json()["error"]["message"].startswith("title:")
        assert files_under(settings.media_root / "public") == []

        # Once published, an episode can't take a title or notes its feed can't carry,
        # nor leave its show without being unpublished.
        await client.patch(f"/api/episodes/{episode['id']}", headers=auth, json={"title": "Ok"})
        await assemble(client, auth, episode["id"])
        assert (await publish(client, auth, episode["id"], number=1)).status_code == 200
        notes = await client.patch(
            f"/api/episodes/{episode['id']}", headers=auth, json={"description": "€" * 1500}
        )
        assert notes.status_code == 422
        assert notes.json()["error"]["message"].startswith("description:")
        other = await make_show(client, auth)
        moved = await client.patch(
            f"/api/episodes/{episode['id']}", headers=auth, json={"show_id": other["id"]}
        )
        assert moved.status_code == 409


async def test_deleting_an_episode_or_its_show_removes_its_public_files(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        gone = await ready_episode(client, auth, tmp_path, show_id=show["id"], title="Gone")
        kept = await ready_episode(client, auth, tmp_path, show_id=show["id"], title="Kept")
        urls, guids = [], []
        for episode in (gone, kept):
            published = await publish(client, auth, episode["id"])
            urls.append(published.json()["publication"]["audio_url"])
            guids.append(published.json()["guid"])
            # A listener, so there are counts to delete too.
            await client.get(urls[-1], headers={"User-Agent": "Overcast/3.0"})
        assert len(files_under(settings.media_root / "public" / "audio")) == 2

        deleted = await client.delete(f"/api/episodes/{gone['id']}", headers=auth)
        assert deleted.status_code == 204
        assert (await client.get(urls[0])).status_code == 404
        assert len(files_under(settings.media_root / "public" / "audio")) == 1
        assert _rows(settings, "SELECT count(*) FROM download_counts") == [(1,)]

        assert (await client.delete(f"/api/shows/{show['id']}", headers=auth)).status_code == 204
        assert (await client.get(urls[1])).status_code == 404
        assert files_under(settings.media_root / "public") == []
        left = (await client.get(f"/api/episodes/{kept['id']}", headers=auth)).json()
        # The episode is still its owner's: out of the show, unpublished, its GUID kept.
        assert (left["show_id"], left["publication"], left["status"]) == (None, None, "ready")
        assert left["guid"] == guids[1]
        for table in ("publications", "download_counts", "download_windows", "shows"):
            assert _rows(settings, f"SELECT count(*) FROM {table}") == [(0,)]


async def test_the_latest_moment_a_publication_takes_reads_back(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        episode = await ready_episode(client, auth, tmp_path, show_id=show["id"])
        # The last moment allowed, said in the time zone furthest east.
        latest = await publish(
            client, auth, episode["id"], published_at="9999-12-31T14:00:00+14:00"
        )
        assert latest.status_code == 200, latest.text
        assert latest.json()["publication"]["published_at"] == "9999-12-31T00:00:00.000Z"
        assert latest.json()["publication"]["status"] == "scheduled"
        # Everything that shows it answers, for good.
        for path in (f"/api/episodes/{episode['id']}", "/api/episodes", f"/api/shows/{show['id']}"):
            assert (await client.get(path, headers=auth)).status_code == 200
        assert (await client.get(show["feed_url"])).status_code == 200


async def test_without_a_public_url_a_server_others_reach_publishes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        episode = await ready_episode(client, auth, tmp_path, show_id=show["id"])
    # The same server, restarted listening on every address with no PODPLUS_PUBLIC_URL.
    async with serving(settings, public_url="", host="0.0.0.0") as client:
        token = await client.post(
            "/api/auth/token", data={"username": "ada@example.com", "password": PASSWORD}
        )
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        refused = await publish(client, auth, episode["id"])
        assert refused.status_code == 409
        assert "PODPLUS_PUBLIC_URL" in refused.json()["error"]["message"]
    assert files_under(settings.media_root / "public") == []
    assert _rows(settings, "SELECT count(*) FROM publications") == [(0,)]
    assert _rows(settings, "SELECT count(*) FROM episodes WHERE guid IS NOT NULL") == [(0,)]
