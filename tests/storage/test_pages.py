"""Lists read a page at a time by keyset: every row once, newest first, whatever is added."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from databases import Database

from podplus.engine.spec import EpisodeSpec
from podplus.ids import new_id
from podplus.storage.database import connect, open_database
from podplus.storage.episodes import Episode, EpisodeStore
from podplus.storage.jobs import JobStore
from podplus.storage.media import Media, MediaKind, MediaStore
from podplus.storage.migrations import migrate
from podplus.storage.pages import PageOf, Position
from podplus.storage.schema import users

OWNER, OTHER = "owner", "other"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = open_database(database_url)
    await connect(db)
    await migrate(db)
    for user_id in (OWNER, OTHER):
        await db.execute(
            users.insert().values(
                id=user_id, email=f"{user_id}@x.io", name="", password_hash="-", created_at=0
            )
        )
    yield db
    await db.disconnect()


def media_row(owner_id: str, created_at: float) -> Media:
    media_id = new_id()
    return Media(
        id=media_id,
        owner_id=owner_id,
        kind=MediaKind.CONTENT,
        filename="take.wav",
        storage_name=media_id,
        size_bytes=1,
        duration_s=1.0,
        sample_rate=44100,
        channels=1,
        codec="pcm_s16le",
        loudness_lufs=-20.0,
        created_at=created_at,
    )


def newest_first(items: list[Any]) -> list[str]:
    return [item.id for item in sorted(items, key=lambda i: (i.created_at, i.id), reverse=True)]


async def read_all(
    store: MediaStore | EpisodeStore | JobStore, *, limit: int, between: Any = None
) -> tuple[list[str], list[int]]:
    """Follow the pages to the end; ``between`` runs after the first page."""
    ids: list[str] = []
    sizes: list[int] = []
    after: Position | None = None
    while True:
        page: PageOf[Any] = await store.owned_by(owner_id=OWNER, limit=limit, after=after)
        ids += [item.id for item in page.items]
        sizes.append(len(page.items))
        if page.next is None:
            return ids, sizes
        if between is not None and len(sizes) == 1:
            await between()
        after = page.next


async def test_120_uploads_paged_by_50_come_back_once_each_newest_first(
    database: Database,
) -> None:
    store = MediaStore(database)
    # Three rows per instant, so the id has to break ties; the other owner's rows interleave.
    mine = [media_row(OWNER, 1_700_000_000.0 + n // 3 + 0.125) for n in range(120)]
    for item in mine:
        await store.add(item)
        await store.add(media_row(OTHER, item.created_at))

    ids, sizes = await read_all(store, limit=50)

    assert sizes == [50, 50, 20]
    assert ids == newest_first(mine)


async def test_an_upload_added_between_pages_neither_repeats_nor_hides_older_ones(
    database: Database,
) -> None:
    store = MediaStore(database)
    mine = [media_row(OWNER, 1_700_000_000.0 + n) for n in range(120)]
    for item in mine:
        await store.add(item)
    newer = media_row(OWNER, 1_700_000_500.0)

    async def upload_meanwhile() -> None:
        await store.add(newer)

    ids, sizes = await read_all(store, limit=50, between=upload_meanwhile)

    assert ids == newest_first(mine) and len(set(ids)) == 120
    assert newer.id not in ids
    first = await store.owned_by(owner_id=OWNER, limit=50)
    assert first.items[0].id == newer.id


async def test_a_list_that_fits_one_page_has_no_next(database: Database) -> None:
    store = MediaStore(database)
    for n in range(50):
        await store.add(media_row(OWNER, float(n)))
    page = await store.owned_by(owner_id=OWNER, limit=50)
    assert len(page.items) == 50 and page.next is None
    assert (await store.owned_by(owner_id=OTHER, limit=50)) == PageOf(items=[], next=None)


async def test_episodes_and_jobs_page_the_same_way(database: Database) -> None:
    episodes = EpisodeStore(database)
    times = iter([1_700_000_000.0 + n // 2 for n in range(7)])
    jobs = JobStore(database, clock=lambda: next(times))
    made: list[Episode] = []
    for n in range(7):
        episode = Episode(
            id=new_id(),
            owner_id=OWNER,
            title=f"Ep {n}",
            description="",
            spec=EpisodeSpec.model_validate({"segments": [{"media_id": "m"}]}),
            audio_name=None,
            audio_size_bytes=None,
            duration_s=None,
            integrated_lufs=None,
            true_peak_db=None,
            created_at=1_700_000_000.0 + n // 2,
            updated_at=0.0,
        )
        await episodes.add(episode, media_ids=set())
        made.append(episode)
    queued = [await jobs.enqueue(owner_id=OWNER, episode_id=episode.id) for episode in made]

    assert await read_all(episodes, limit=3) == (newest_first(made), [3, 3, 1])
    assert await read_all(jobs, limit=3) == (newest_first(queued), [3, 3, 1])


async def test_a_page_holds_at_least_one_row(database: Database) -> None:
    with pytest.raises(ValueError):
        await MediaStore(database).owned_by(owner_id=OWNER, limit=0)
