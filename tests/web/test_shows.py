"""``/api/shows``: a creator's podcasts, validated field by field, owned by their maker, with
artwork the directories take and a preset that fills new episodes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from podplus.feeds.identity import podcast_guid
from podplus.settings import Settings
from tests.conftest import register
from tests.media_files import ffmpeg, image, tone
from tests.publishing import (
    files_under,
    make_show,
    picture,
    put_artwork,
    serving,
    show_body,
    upload_audio,
)


async def test_a_show_is_created_with_a_feed_and_a_guid_from_its_first_url(
    settings: Settings,
) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        show = await make_show(client, auth, slug="engine-room")
        assert show["feed_url"] == "https://pod.test/feeds/engine-room.xml"
        assert show["podcast_guid"] == podcast_guid("pod.test/feeds/engine-room.xml")
        assert len(show["feed_id"]) == 32 and show["feed_id"] != show["id"]
        assert (show["language"], show["type"], show["explicit"], show["locked"]) == (
            "en-US", "episodic", False, True,
        )  # fmt: skip
        assert show["directory_problems"] == [
            "artwork: upload the show's artwork (JPEG or PNG, 1400–3000 px square).",
            "episodes: publish at least one episode; directories list no empty feed.",
        ]
        fetched = await client.get(f"/api/shows/{show['id']}", headers=auth)
        assert fetched.json() == show
        # The feed answers at its slug and at its unguessable id alike.
        for key in ("engine-room", show["feed_id"]):
            assert (await client.get(f"/feeds/{key}.xml")).status_code == 200

        # A new address later doesn't change the show's identity.
        moved = await client.patch(
            f"/api/shows/{show['id']}", headers=auth, json={"slug": "boiler-room"}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["podcast_guid"] == show["podcast_guid"]
        assert moved.json()["feed_url"] == "https://pod.test/feeds/boiler-room.xml"
        # Subscribers of the old address are sent on (see the retired-slug tests).
        old = await client.get("/feeds/engine-room.xml")
        assert old.status_code == 301
        assert old.headers["location"] == "https://pod.test/feeds/boiler-room.xml"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 256}, "title"),
        ({"title": "line\nbreak"}, "title"),
        ({"description": "€" * 1500}, "description"),
        ({"author": None}, "author"),
        ({"owner_email": "not-an-email"}, "owner_email"),
        ({"language": "english"}, "language"),
        ({"language": "xx"}, "language"),
        ({"category": "Gadgets"}, "category"),
        ({"category": "News", "subcategory": "Books"}, "subcategory"),
        ({"subcategory": "Improv"}, "subcategory"),
        ({"type": "daily"}, "type"),
        ({"explicit": "yes"}, "explicit"),
        ({"link": "javascript:alert(1)"}, "link"),
        ({"link": "https://"}, "link"),
        ({"link": "https://example.com/" + "a" * 2100}, "link"),
        ({"slug": "Engine-Room"}, "slug"),
        ({"slug": "-room"}, "slug"),
        ({"slug": "a" * 49}, "slug"),
        ({"slug": "0123456789abcdef0123456789abcdef"}, "slug"),
        ({"defaults": {"loudness": {"target_lufs": -99}}}, "defaults.loudness.target_lufs"),
        ({"defaults": {"intro_id": "missing"}}, "defaults.intro_id"),
        ({"defaults": {"colour": "red"}}, "defaults.colour"),
        ({"feed_id": "mine"}, "feed_id"),
    ],
)
async def test_every_wrong_field_is_named_and_nothing_is_stored(
    settings: Settings, change: dict[str, object], field: str
) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        response = await client.post("/api/shows", headers=auth, json=show_body(**change))
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith(f"{field}:")
        listed = await client.get("/api/shows", headers=auth)
        assert listed.json()["items"] == []


async def test_shows_are_their_owners_alone(settings: Settings) -> None:
    async with serving(settings) as client:
        ada = await register(client)
        eve = await register(client, "eve@example.com")
        show = await make_show(client, ada, slug="adas")
        url = f"/api/shows/{show['id']}"
        for method, path in (
            ("GET", url), ("PATCH", url), ("DELETE", url), ("GET", f"{url}/stats"),
        ):  # fmt: skip
            response = await client.request(method, path, headers=eve, json={"title": "Mine"})
            assert response.status_code == 404, (method, path)
        assert (await client.get("/api/shows", headers=eve)).json()["items"] == []
        # Nor can anyone take its address.
        taken = await client.post("/api/shows", headers=eve, json=show_body(slug="adas"))
        assert taken.status_code == 409
        assert taken.json()["error"]["message"].startswith("slug:")
        assert (await client.get(url, headers=ada)).json()["title"] == "The Engine Room"


async def test_an_account_has_a_bounded_number_of_shows(settings: Settings) -> None:
    async with serving(settings, max_shows_per_user=2) as client:
        auth = await register(client)
        await make_show(client, auth)
        await make_show(client, auth)
        third = await client.post("/api/shows", headers=auth, json=show_body())
        assert third.status_code == 409
        assert len((await client.get("/api/shows", headers=auth)).json()["items"]) == 2


async def test_the_shows_preset_fills_what_a_new_episode_leaves_out(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        intro = await upload_audio(client, auth, tone(tmp_path / "intro.wav", seconds=1), "intro")
        bed = await upload_audio(client, auth, tone(tmp_path / "bed.wav", seconds=1), "music")
        take = await upload_audio(client, auth, tone(tmp_path / "take.wav", seconds=1))
        show = await make_show(
            client,
            auth,
            defaults={
                "intro_id": intro,
                "music_bed": {"media_id": bed, "gain_db": -24},
                "loudness": {"target_lufs": -19},
                "output": {"format": "m4a", "bitrate_kbps": 96},
                "tags": {"artist": "Ada", "album": "The Engine Room"},
            },
        )
        created = await client.post(
            "/api/episodes",
            headers=auth,
            json={
                "title": "Weekly",
                "show_id": show["id"],
                "segments": [{"media_id": take}],
                "output": {"channels": 2},
                "tags": {"album": "Special"},
            },
        )
        assert created.status_code == 201, created.text
        episode = created.json()
        assert episode["show_id"] == show["id"]
        assert episode["intro_id"] == intro
        assert episode["music_bed"] == {"media_id": bed, "gain_db": -24, "duck": True}
        assert episode["loudness"] == {"target_lufs": -19, "true_peak_db": -1}
        # Blocks are filled field by field: the episode's own values win.
        assert episode["output"] == {
            "format": "m4a", "bitrate_kbps": 96, "channels": 2, "sample_rate": 44100,
        }  # fmt: skip
        assert episode["tags"] == {"artist": "Ada", "album": "Special"}
        # An episode that says otherwise keeps what it says, even "none".
        plain = await client.post(
            "/api/episodes",
            headers=auth,
            json={"title": "Bare", "show_id": show["id"], "segments": [{"media_id": take}],
                  "intro_id": None, "music_bed": None},
        )  # fmt: skip
        assert (plain.json()["intro_id"], plain.json()["music_bed"]) == (None, None)
        # Without a show, nothing is filled in.
        alone = await client.post(
            "/api/episodes",
            headers=auth,
            json={"title": "Alone", "segments": [{"media_id": take}]},
        )
        assert alone.json()["intro_id"] is None and alone.json()["show_id"] is None


async def test_a_preset_and_an_episode_only_name_their_owners_things(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings) as client:
        ada = await register(client)
        eve = await register(client, "eve@example.com")
        eves = await upload_audio(client, eve, tone(tmp_path / "e.wav", seconds=1), "intro")
        cover = await client.post(
            "/api/media",
            headers=ada,
            files={"file": ("c.png", image(tmp_path / "c.png").read_bytes())},
            data={"kind": "cover"},
        )
        for defaults, field in (
            ({"intro_id": eves}, "defaults.intro_id"),
            ({"outro_id": cover.json()["id"]}, "defaults.outro_id"),
        ):
            response = await client.post(
                "/api/shows", headers=ada, json=show_body(defaults=defaults)
            )
            assert response.status_code == 422
            assert response.json()["error"]["message"].startswith(f"{field}:")
        eves_show = await make_show(client, eve)
        take = await upload_audio(client, ada, tone(tmp_path / "t.wav", seconds=1))
        intruding = await client.post(
            "/api/episodes",
            headers=ada,
            json={"title": "X", "show_id": eves_show["id"], "segments": [{"media_id": take}]},
        )
        assert intruding.status_code == 422
        assert intruding.json()["error"]["message"].startswith("show_id:")


@pytest.mark.parametrize(
    ("name", "size", "pixel_format", "status", "rule"),
    [
        ("art.png", "1400x1400", None, 200, None),
        ("art.jpg", "3000x3000", None, 200, None),
        ("wide.png", "1600x1400", None, 422, "file: artwork must be square"),
        ("small.png", "1000x1000", None, 422, "file: artwork must be 1400 to 3000 px"),
        ("huge.jpg", "3200x3200", None, 422, "file: artwork must be 1400 to 3000 px"),
        ("grey.png", "1400x1400", "gray", 422, "file: artwork must be in the RGB colour space"),
        ("alpha.png", "1400x1400", "ya8", 422, "file: artwork must be in the RGB colour space"),
        ("anim.gif", "1400x1400", None, 415, "file: artwork must be a JPEG or PNG image"),
        ("art.webp", "1400x1400", None, 415, "file: artwork must be a JPEG or PNG image"),
    ],
)
async def test_artwork_is_refused_naming_the_rule_it_breaks(
    settings: Settings,
    tmp_path: Path,
    name: str,
    size: str,
    pixel_format: str | None,
    status: int,
    rule: str | None,
) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        path = picture(tmp_path / name, size=size, pixel_format=pixel_format)
        response = await put_artwork(client, auth, show["id"], path)
        assert response.status_code == status, response.text
        public = settings.media_root / "public" / "artwork"
        if rule is None:
            assert response.json()["artwork_size_px"] == int(size.split("x")[0])
            art = await client.get(response.json()["artwork_url"])
            assert art.content == path.read_bytes()
            assert art.headers["content-type"] == ("image/png" if name.endswith("png")
                                                   else "image/jpeg")  # fmt: skip
            assert len(files_under(public)) == 1
        else:
            assert response.json()["error"]["message"].startswith(rule)
            # The broken rule as a value too, for clients to branch on.
            assert response.json()["error"]["reason"] == ARTWORK_REASONS[rule]
            assert files_under(public) == []
        assert files_under(settings.media_root / ".incoming") == []


ARTWORK_REASONS = {
    "file: artwork must be square": "square",
    "file: artwork must be 1400 to 3000 px": "size",
    "file: artwork must be in the RGB colour space": "colour",
    "file: artwork must be a JPEG or PNG image": "format",
}


async def test_a_video_of_jpeg_frames_is_not_artwork(settings: Settings, tmp_path: Path) -> None:
    # An AVI of three square RGB MJPEG frames: every frame would pass as a JPEG. Read as a
    # container it looks like artwork; read as the one picture artwork is, it is nothing.
    video = tmp_path / "cover.avi"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=1400x1400", "-frames:v", "3", "-c:v", "mjpeg",
           str(video))  # fmt: skip
    async with serving(settings) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        for name in ("cover.avi", "cover.jpg"):
            refused = await client.put(
                f"/api/shows/{show['id']}/artwork",
                headers=auth,
                files={"file": (name, video.read_bytes())},
            )
            assert refused.status_code == 415, refused.text
            assert refused.json()["error"]["reason"] == "format"
        fetched = (await client.get(f"/api/shows/{show['id']}", headers=auth)).json()
        assert fetched["artwork_url"] is None
    for folder in ("public", ".incoming"):
        assert files_under(settings.media_root / folder) == []


async def test_new_artwork_replaces_the_old_file_and_url(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        first = (await put_artwork(client, auth, show["id"], picture(tmp_path / "a.png"))).json()
        second_path = picture(tmp_path / "b.jpg", size="2000x2000")
        second = (await put_artwork(client, auth, show["id"], second_path)).json()
        assert second["artwork_url"] != first["artwork_url"]
        assert second["artwork_url"].endswith(".jpg")
        assert (await client.get(first["artwork_url"])).status_code == 404
        assert (await client.get(second["artwork_url"])).content == second_path.read_bytes()
        assert files_under(settings.media_root / "public" / "artwork") == [
            second["artwork_url"].rsplit("/", 1)[1]
        ]


async def test_artwork_that_is_not_an_image_or_too_large_leaves_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings, max_upload_bytes=100_000) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        text = tmp_path / "notes.png"
        text.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
        refused = await put_artwork(client, auth, show["id"], text)
        assert refused.status_code == 415
        big = picture(tmp_path / "big.png", size="3000x3000")
        assert big.stat().st_size > 100_000
        too_big = await put_artwork(client, auth, show["id"], big)
        assert too_big.status_code == 413
        extra = await client.put(
            f"/api/shows/{show['id']}/artwork",
            headers=auth,
            files={"file": ("a.png", b"x"), "kind": (None, "cover")},
        )
        # A part the form doesn't take is refused before it is read.
        assert extra.status_code == 413
        assert "more than 1 parts" in extra.json()["error"]["message"]
        for folder in ("public", ".incoming"):
            assert files_under(settings.media_root / folder) == []
        assert (await client.get(f"/api/shows/{show['id']}", headers=auth)).json()[
            "artwork_url"
        ] is None


async def test_the_show_list_pages_like_every_list(settings: Settings) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        made = [(await make_show(client, auth, title=f"Show {n}"))["id"] for n in range(5)]
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/shows", headers=auth, params=params)).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(made) and len(seen) == 5
        # A cursor of one list is no cursor of another.
        other = await client.get("/api/episodes", headers=auth, params={"cursor": cursor or "x"})
        assert other.status_code == 422


async def test_deleting_a_show_leaves_no_row_behind(settings: Settings, tmp_path: Path) -> None:
    async with serving(settings) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        await put_artwork(client, auth, show["id"], picture(tmp_path / "a.png"))
        assert (await client.delete(f"/api/shows/{show['id']}", headers=auth)).status_code == 204
        assert (await client.get(f"/api/shows/{show['id']}", headers=auth)).status_code == 404
        assert (await client.get(f"/feeds/{show['feed_id']}.xml")).status_code == 404
    database = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    assert database.execute("SELECT count(*) FROM shows").fetchone() == (0,)
    assert files_under(settings.media_root / "public") == []


async def test_feed_urls_use_the_public_url_whatever_host_a_request_names(
    settings: Settings,
) -> None:
    async with serving(settings, public_url="https://podcasts.example.com") as client:
        auth = await register(client)
        show = await make_show(client, auth, slug="engine-room")
        assert show["feed_url"] == "https://podcasts.example.com/feeds/engine-room.xml"
        assert show["podcast_guid"] == podcast_guid("podcasts.example.com/feeds/engine-room.xml")
        feed = await client.get("/feeds/engine-room.xml", headers={"Host": "evil.example"})
        assert b"evil.example" not in feed.content
        assert b'href="https://podcasts.example.com/feeds/engine-room.xml"' in feed.content


async def test_a_retired_slug_leads_to_its_show_and_is_no_one_elses(settings: Settings) -> None:
    async with serving(settings) as client:
        ada, bob = await register(client, "ada@example.com"), await register(client, "b@x.io")
        show = await make_show(client, ada, slug="engine-room")
        renamed = await client.patch(
            f"/api/shows/{show['id']}", headers=ada, json={"slug": "boiler-room"}
        )
        assert renamed.status_code == 200, renamed.text

        # Apps subscribed to the old address follow a permanent redirect to the new one.
        old = await client.get("/feeds/engine-room.xml")
        assert old.status_code == 301
        assert old.headers["location"] == "https://pod.test/feeds/boiler-room.xml"
        # Another account can't take the address the apps still ask for: not at creation,
        # not by renaming a show of its own.
        taken = await client.post("/api/shows", headers=bob, json=show_body(slug="engine-room"))
        assert taken.status_code == 409, taken.text
        assert taken.json()["error"]["message"].startswith("slug:")
        own = await make_show(client, bob, title="Bob's")
        hijack = await client.patch(
            f"/api/shows/{own['id']}", headers=bob, json={"slug": "engine-room"}
        )
        assert hijack.status_code == 409
        assert (await client.get("/api/shows", headers=bob)).json()["items"] == [own]
        assert (await client.get("/feeds/engine-room.xml")).status_code == 301

        # Without a slug the feed lives at its id; the old slugs lead there.
        cleared = await client.patch(f"/api/shows/{show['id']}", headers=ada, json={"slug": None})
        assert cleared.json()["feed_url"] == f"https://pod.test/feeds/{show['feed_id']}.xml"
        for key in ("engine-room", "boiler-room"):
            moved = await client.get(f"/feeds/{key}.xml")
            assert moved.headers["location"] == cleared.json()["feed_url"]
        # Its owner may take an old slug back.
        back = await client.patch(
            f"/api/shows/{show['id']}", headers=ada, json={"slug": "engine-room"}
        )
        assert back.status_code == 200
        assert (await client.get("/feeds/engine-room.xml")).status_code == 200

        # A deleted show's addresses are gone for good (apps unsubscribe), still no one else's.
        assert (await client.delete(f"/api/shows/{show['id']}", headers=ada)).status_code == 204
        for key in ("engine-room", "boiler-room"):
            gone = await client.get(f"/feeds/{key}.xml")
            assert gone.status_code == 410
            assert gone.json()["error"]["code"] == "gone"
        again = await client.post("/api/shows", headers=bob, json=show_body(slug="boiler-room"))
        assert again.status_code == 409
        assert (await client.get("/feeds/never-was.xml")).status_code == 404
    database = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    # Only what the refused requests didn't make: Bob's one show, Ada's two slugs.
    assert database.execute("SELECT count(*) FROM shows").fetchone() == (1,)
    assert sorted(database.execute("SELECT slug FROM show_slugs").fetchall()) == [
        ("boiler-room",), ("engine-room",),
    ]  # fmt: skip


async def test_without_a_public_url_feeds_use_the_loopback_address_never_the_host_header(
    settings: Settings,
) -> None:
    # The development default (``make dev``): 127.0.0.1:8000, no PODPLUS_PUBLIC_URL.
    async with serving(settings, public_url="") as client:
        auth = await register(client)
        show = await make_show(client, auth, slug="engine-room")
        spoofed = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
        fetched = await client.get(f"/api/shows/{show['id']}", headers={**auth, **spoofed})
        assert fetched.json()["feed_url"] == "http://127.0.0.1:8000/feeds/engine-room.xml"
        # The guid is fixed from the unguessable address: two development servers share
        # 127.0.0.1:8000, never a feed id.
        feed_id_url = f"127.0.0.1:8000/feeds/{show['feed_id']}.xml"
        assert show["podcast_guid"] == podcast_guid(feed_id_url)
        feed = await client.get("/feeds/engine-room.xml", headers=spoofed)
        assert b"evil.example" not in feed.content
        assert b'href="http://127.0.0.1:8000/feeds/engine-room.xml"' in feed.content


@pytest.mark.parametrize(
    "overrides",
    [{"host": "0.0.0.0"}, {"host": "127.0.0.1", "forwarded_allow_ips": ("10.0.0.1",)}],
    ids=["listening-everywhere", "behind-a-proxy"],
)
async def test_without_a_public_url_a_server_others_reach_makes_no_show(
    settings: Settings, overrides: dict[str, object]
) -> None:
    async with serving(settings, public_url="", **overrides) as client:
        auth = await register(client)
        refused = await client.post(
            "/api/shows", headers={**auth, "Host": "evil.example"}, json=show_body()
        )
        assert refused.status_code == 409
        assert "PODPLUS_PUBLIC_URL" in refused.json()["error"]["message"]
        assert (await client.get("/api/shows", headers=auth)).json()["items"] == []
    database = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    assert database.execute("SELECT count(*) FROM shows").fetchone() == (0,)
    assert database.execute("SELECT count(*) FROM show_slugs").fetchone() == (0,)
