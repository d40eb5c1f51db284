"""Shows, publications and download counts in the database (SQLite and PostgreSQL): the
atomic decisions, the order that survives a crash, and the migration that adds them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import Database
from sqlalchemy.schema import CreateTable

from podplus.errors import Conflict, ShowQuotaExceeded, SlugTaken
from podplus.storage.database import connect, open_database
from podplus.storage.downloads import DownloadStore
from podplus.storage.episodes import Episode, EpisodeStore
from podplus.storage.files import FileStore
from podplus.storage.migrations import SCHEMA_VERSION, migrate
from podplus.storage.public_files import PublicFiles
from podplus.storage.publications import PublicationStore
from podplus.storage.publishing import Publisher, PublishOptions
from podplus.storage.schema import (
    download_counts,
    download_windows,
    episodes,
    publications,
    schema_migrations,
    shows,
    users,
)
from podplus.storage.shows import Show, ShowDefaults, ShowStore
from tests.publishing import files_under

DAY_S = 86_400.0


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = open_database(database_url)
    await connect(db)
    await migrate(db)
    await db.execute(
        users.insert().values(id="u", email="u@x.io", name="", password_hash="-", created_at=0)
    )
    yield db
    await db.disconnect()


def a_show(show_id: str, *, slug: str | None = None) -> Show:
    return Show(
        id=show_id, owner_id="u", feed_id=f"feed-{show_id}", slug=slug, podcast_guid="g",
        title="T", description="D", author="A", owner_name="O", owner_email="o@x.io",
        language="en", category="Technology", subcategory=None, explicit=False,
        show_type="episodic", link=None, copyright=None, locked=True, defaults=ShowDefaults(),
        artwork_name=None, artwork_size_px=None, created_at=0.0, updated_at=0.0,
    )  # fmt: skip


async def an_episode(database: Database, files: FileStore, *, show_id: str | None) -> Episode:
    await database.execute(
        episodes.insert().values(
            id="e", owner_id="u", title="t", spec=json.dumps({"segments": [{"media_id": "m"}]}),
            audio_name="e-j1.mp3", duration_s=2.0, created_at=0, updated_at=0, show_id=show_id,
        )
    )  # fmt: skip
    files.episode_path("e-j1.mp3").write_bytes(b"ID3 assembled audio")
    episode = await EpisodeStore(database).get("e")
    assert episode is not None
    return episode


async def test_concurrent_shows_never_pass_the_quota_or_share_a_slug(database: Database) -> None:
    store = ShowStore(database)
    results = await asyncio.gather(
        *(store.add_within(a_show(f"s{n}"), max_shows=3) for n in range(8)),
        return_exceptions=True,
    )
    assert sum(result is None for result in results) == 3
    assert all(isinstance(r, ShowQuotaExceeded) for r in results if r is not None)
    await database.execute(shows.delete())
    results = await asyncio.gather(
        *(store.add_within(a_show(f"t{n}", slug="same"), max_shows=10) for n in range(4)),
        return_exceptions=True,
    )
    assert sum(result is None for result in results) == 1
    assert all(isinstance(r, SlugTaken) for r in results if r is not None)


async def test_one_listener_counts_once_however_many_ranges_arrive_at_once(
    database: Database,
) -> None:
    downloads = DownloadStore(database)
    counted = await asyncio.gather(
        *(
            downloads.record(episode_id="e", show_id="s", listener="L", now=1000.0 + n)
            for n in range(20)
        )
    )
    assert counted.count(True) == 1
    assert await downloads.totals(["e", "other"]) == {"e": 1, "other": 0}
    # Within the window: nothing; after it: the next download, on its own day.
    assert not await downloads.record(episode_id="e", show_id="s", listener="L", now=DAY_S)
    # The window began with whichever of the twenty requests won (1000 … 1019 s).
    assert await downloads.record(episode_id="e", show_id="s", listener="L", now=DAY_S + 1100)
    assert await downloads.record(episode_id="e", show_id="s", listener="M", now=DAY_S + 1100)
    days = [(c.day, c.downloads) for c in await downloads.by_day("s", since_day="1970-01-01")]
    assert days == [("1970-01-01", 1), ("1970-01-02", 2)]
    assert await downloads.by_day("s", since_day="1970-01-02") != []
    assert await downloads.by_day("other-show", since_day="1970-01-01") == []


async def test_publishing_puts_the_file_in_place_before_the_row_names_it(
    database: Database, tmp_path: Path
) -> None:
    files = FileStore(tmp_path / "media")
    public = PublicFiles(tmp_path / "media")
    store = PublicationStore(database)
    await ShowStore(database).add_within(a_show("s"), max_shows=1)
    episode = await an_episode(database, files, show_id="s")
    show = await ShowStore(database).get("s")

    async def no_chapters(path: Path) -> list[object]:
        # The row doesn't exist yet, and the file must already be whole.
        assert path.read_bytes() == b"ID3 assembled audio"
        assert await store.get("e") is None
        return []

    publisher = Publisher(
        publications=store,
        public=public,
        files=files,
        episodes=EpisodeStore(database),
        read_chapters=no_chapters,  # type: ignore[arg-type]
        clock=lambda: 5.0,
    )
    publication = await publisher.publish(episode, show, PublishOptions())
    assert public.audio_path(publication.audio_name).read_bytes() == b"ID3 assembled audio"
    # A hard link: no second copy of an hour of audio.
    assert public.audio_path(publication.audio_name).stat().st_ino == (
        files.episode_path("e-j1.mp3").stat().st_ino
    )
    assert (await store.get("e")) == publication

    # The episode goes while it is being published: nothing is left that no row names.
    await publisher.unpublish("e")
    await database.execute(episodes.delete().where(episodes.c.id == "e"))
    with pytest.raises(Conflict):
        await publisher.publish(episode, show, PublishOptions())
    assert files_under(public.root) == []
    assert await database.fetch_all(publications.select()) == []


async def test_a_version_4_database_gains_shows_and_publishing(database_url: str) -> None:
    database = open_database(database_url)
    await connect(database)
    await migrate(database)
    # As release 4 left it: no shows, no publishing, an episode, version 4 recorded.
    for table in ("download_counts", "download_windows", "publications", "show_slugs"):
        await database.execute(f"DROP TABLE {table}")
    await database.execute("DROP INDEX IF EXISTS ix_episodes_show")
    await database.execute("DROP INDEX IF EXISTS ux_episodes_guid")
    if database.url.dialect == "postgresql":
        await database.execute("ALTER TABLE episodes DROP COLUMN show_id")
        await database.execute("ALTER TABLE episodes DROP COLUMN guid")
    else:
        # SQLite can't drop a column with a foreign key: rebuild the table as it was.
        kept = [c for c in episodes.columns if c.name not in ("show_id", "guid")]
        v4 = sa.Table(
            "episodes_v4",
            sa.MetaData(),
            *(sa.Column(c.name, c.type, primary_key=c.primary_key) for c in kept),
        )
        await database.execute(CreateTable(v4))
        columns = ", ".join(c.name for c in kept)
        await database.execute(f"INSERT INTO episodes_v4 SELECT {columns} FROM episodes")
        await database.execute("DROP TABLE episodes")
        await database.execute("ALTER TABLE episodes_v4 RENAME TO episodes")
    await database.execute("DROP TABLE shows")
    await database.execute(schema_migrations.delete().where(schema_migrations.c.version > 4))
    await database.execute(
        users.insert().values(id="u", email="u@x.io", name="", password_hash="-", created_at=0)
    )
    await database.execute(
        "INSERT INTO episodes (id, owner_id, title, description, spec, created_at, updated_at) "
        "VALUES ('e', 'u', 't', '', '{\"segments\": [{\"media_id\": \"m\"}]}', 0, 0)"
    )
    assert await migrate(database) == SCHEMA_VERSION >= 5
    await ShowStore(database).add_within(a_show("s"), max_shows=1)
    await database.execute(episodes.update().where(episodes.c.id == "e").values(show_id="s"))
    episode = await EpisodeStore(database).get("e")
    assert episode is not None and (episode.show_id, episode.guid) == ("s", None)
    await database.disconnect()


async def test_deleting_a_show_unpublishes_its_episodes_and_keeps_them(
    database: Database, tmp_path: Path
) -> None:
    files = FileStore(tmp_path / "media")
    public = PublicFiles(tmp_path / "media")
    shows_store = ShowStore(database)
    await shows_store.add_within(a_show("s"), max_shows=1)
    await shows_store.set_artwork("s", name="feed-s-art.png", size_px=1400)
    public.artwork_path("feed-s-art.png").write_bytes(b"png")
    episode = await an_episode(database, files, show_id="s")

    async def no_chapters(path: Path) -> list[object]:
        return []

    publisher = Publisher(
        publications=PublicationStore(database),
        public=public,
        files=files,
        episodes=EpisodeStore(database),
        read_chapters=no_chapters,  # type: ignore[arg-type]
    )
    show = await shows_store.get("s")
    assert show is not None
    await publisher.publish(episode, show, PublishOptions())
    await DownloadStore(database).record(episode_id="e", show_id="s", listener="L", now=1.0)

    await publisher.delete_show(show)
    assert files_under(public.root) == []
    assert await shows_store.get("s") is None
    for table in (publications, download_counts, download_windows):
        assert await database.fetch_all(table.select()) == []
    kept = await EpisodeStore(database).get("e")
    # The episode stays its owner's, out of any show, its GUID kept for a later show.
    assert kept is not None and kept.show_id is None and kept.guid is not None
    assert files.episode_path("e-j1.mp3").read_bytes() == b"ID3 assembled audio"


def a_publisher(
    database: Database, tmp_path: Path, *, read_chapters: object = None, now: float = 5.0
) -> tuple[Publisher, PublicationStore, PublicFiles, FileStore]:
    files = FileStore(tmp_path / "media")
    public = PublicFiles(tmp_path / "media")
    store = PublicationStore(database)

    async def no_chapters(path: Path) -> list[object]:
        await asyncio.sleep(0)  # a turn for whatever races it, as ffprobe would give
        return []

    publisher = Publisher(
        publications=store,
        public=public,
        files=files,
        episodes=EpisodeStore(database),
        read_chapters=read_chapters or no_chapters,  # type: ignore[arg-type]
        clock=lambda: now,
    )
    return publisher, store, public, files


async def _files_and_row_agree(store: PublicationStore, public: PublicFiles) -> None:
    """The feed names a file that is there, and no file is there that no row names."""
    row = await store.get("e")
    assert files_under(public.root) == ([] if row is None else [f"audio/{row.audio_name}"])


async def test_publish_racing_unpublish_leaves_files_and_rows_agreeing(
    database: Database, tmp_path: Path
) -> None:
    publisher, store, public, files = a_publisher(database, tmp_path)
    await ShowStore(database).add_within(a_show("s"), max_shows=1)
    episode = await an_episode(database, files, show_id="s")
    show = await ShowStore(database).get("s")
    episode = await EpisodeStore(database).get("e")
    assert episode is not None and show is not None
    for _ in range(8):
        await publisher.publish(episode, show, PublishOptions())
        results = await asyncio.gather(
            publisher.publish(episode, show, PublishOptions()),
            publisher.unpublish("e"),
            publisher.publish(episode, show, PublishOptions()),
            return_exceptions=True,
        )
        # Two publishes of one episode at once may see each other's work: the loser is
        # told to try again (409), never left half-done.
        failures = [r for r in results if isinstance(r, BaseException)]
        assert all(isinstance(r, Conflict) for r in failures), results
        await _files_and_row_agree(store, public)


async def test_an_unpublish_between_freezing_and_naming_the_file_is_undone_by_naming_it(
    database: Database, tmp_path: Path
) -> None:
    # The interleaving that used to leave a feed naming a missing file: the publication's
    # file is frozen, an unpublish removes that same file, then the row is written.
    armed = False

    async def unpublish_meanwhile(path: Path) -> list[object]:
        if armed:
            await publisher.unpublish("e")
            assert not path.exists()
        return []

    publisher, store, public, files = a_publisher(
        database, tmp_path, read_chapters=unpublish_meanwhile
    )
    await ShowStore(database).add_within(a_show("s"), max_shows=1)
    episode = await an_episode(database, files, show_id="s")
    show = await ShowStore(database).get("s")
    assert show is not None
    first = await publisher.publish(episode, show, PublishOptions())
    armed = True
    again = await publisher.publish(episode, show, PublishOptions())
    assert again.audio_name == first.audio_name
    assert public.audio_path(again.audio_name).read_bytes() == b"ID3 assembled audio"
    await _files_and_row_agree(store, public)


async def test_a_slug_a_show_once_had_is_never_another_owners(database: Database) -> None:
    await database.execute(
        users.insert().values(id="v", email="v@x.io", name="", password_hash="-", created_at=0)
    )
    store = ShowStore(database)
    await store.add_within(a_show("s", slug="engine-room"), max_shows=5)
    show = await store.get("s")
    assert show is not None
    await store.update(show, slug="boiler-room")
    strangers = [replace(a_show(f"v{n}", slug="engine-room"), owner_id="v") for n in range(4)]
    results = await asyncio.gather(
        *(store.add_within(stranger, max_shows=5) for stranger in strangers),
        return_exceptions=True,
    )
    assert all(isinstance(result, SlugTaken) for result in results), results
    assert await database.fetch_all(shows.select().where(shows.c.owner_id == "v")) == []
    retired = await store.retired_slug("engine-room")
    assert retired is not None and retired.show is not None and retired.show.id == "s"
    # The owner may take it again; after the show is deleted, it leads nowhere, still its.
    await store.add_within(a_show("t", slug="engine-room"), max_shows=5)
    assert (await store.by_feed_key("engine-room")).id == "t"  # type: ignore[union-attr]
    await PublicationStore(database).delete_show("t")
    retired = await store.retired_slug("engine-room")
    assert retired is not None and retired.show is None
    with pytest.raises(SlugTaken):
        await store.add_within(replace(a_show("v9", slug="engine-room"), owner_id="v"), max_shows=5)


async def test_every_change_to_what_a_feed_shows_moves_its_change_time_forward(
    database: Database, tmp_path: Path
) -> None:
    publisher, _, _, files = a_publisher(database, tmp_path, now=100.0)
    store = ShowStore(database, clock=lambda: 100.0)
    await store.add_within(replace(a_show("s"), feed_changed_at=100.0), max_shows=1)
    episode = await an_episode(database, files, show_id="s")
    times = [100.0]

    async def changed_at() -> float:
        show = await store.get("s")
        assert show is not None
        times.append(show.feed_changed_at)
        return show.feed_changed_at

    show = await store.get("s")
    assert show is not None
    # The clock stands still (or goes back): every change still moves the time on.
    await publisher.publish(episode, show, PublishOptions(published_at=1.0))
    await changed_at()
    await publisher.unpublish("e")
    await changed_at()
    await publisher.publish(episode, show, PublishOptions())
    await changed_at()
    await EpisodeStore(database, clock=lambda: 50.0).update(
        "e", title="New title", description="", spec=episode.spec, media_ids=set(), show_id="s"
    )
    await changed_at()
    await store.update(show, title="Renamed")
    await changed_at()
    await store.set_artwork("s", name="art.png", size_px=1400)
    await changed_at()
    assert times == sorted(set(times)) and len(times) == 7


async def test_a_stored_report_this_release_cannot_read_is_no_report(database: Database) -> None:
    for report in ('{"parts": "not a list"}', "not JSON at all"):
        await database.execute(episodes.delete())
        await database.execute(
            episodes.insert().values(
                id="e", owner_id="u", title="t", spec=json.dumps({"segments": [{"media_id": "m"}]}),
                audio_name="e.mp3", created_at=0, updated_at=0, report=report,
            )
        )  # fmt: skip
        episode = await EpisodeStore(database).get("e")
        assert episode is not None and episode.report is None and episode.audio_name == "e.mp3"
