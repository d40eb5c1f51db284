"""A production's rows go in together or not at all, on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from podplus.engine.spec import EpisodeSpec
from podplus.errors import JobQuotaExceeded, MediaQuotaExceeded
from podplus.ids import new_id
from podplus.storage.database import connect, open_database
from podplus.storage.episodes import Episode, EpisodeStore
from podplus.storage.jobs import JobStatus, JobStore
from podplus.storage.media import Media, MediaKind, MediaQuota, MediaStore
from podplus.storage.migrations import migrate
from podplus.storage.productions import add_production
from podplus.storage.schema import episode_media, episodes, jobs, media, users

ROOMY = MediaQuota(storage_bytes=10**9, files=100, duration_s=10**6)


def take(size_bytes: int = 1000) -> Media:
    media_id = new_id()
    return Media(
        id=media_id, owner_id="u", kind=MediaKind.CONTENT, filename="take.wav",
        storage_name=media_id, size_bytes=size_bytes, duration_s=1.0, sample_rate=44100,
        channels=1, codec="pcm_s16le", loudness_lufs=-20.0, created_at=0.0,
    )  # fmt: skip


def episode_of(items: list[Media]) -> Episode:
    spec = EpisodeSpec.model_validate({"segments": [{"media_id": item.id} for item in items]})
    return Episode(
        id=new_id(), owner_id="u", title="Pilot", description="", spec=spec, audio_name=None,
        audio_size_bytes=None, duration_s=None, integrated_lufs=None, true_peak_db=None,
        created_at=0.0, updated_at=0.0,
    )  # fmt: skip


async def counts(database: object) -> dict[str, int]:
    return {
        table.name: await database.fetch_val(sa.select(sa.func.count()).select_from(table))  # type: ignore[attr-defined]
        for table in (media, episodes, episode_media, jobs)
    }


@pytest.fixture
async def stores(database_url: str):  # type: ignore[no-untyped-def]
    database = open_database(database_url)
    await connect(database)
    await migrate(database)
    await database.execute(
        users.insert().values(id="u", email="u@x.io", name="", password_hash="-", created_at=0)
    )
    yield database, MediaStore(database), EpisodeStore(database), JobStore(database)
    await database.disconnect()


async def test_media_episode_and_job_are_stored_together(stores) -> None:  # type: ignore[no-untyped-def]
    database, media_store, episode_store, job_store = stores
    items = [take(), take()]
    job = await add_production(
        database, media=media_store, episodes=episode_store, jobs=job_store, items=items,
        quota=ROOMY, episode=episode_of(items), max_active_jobs=5,
    )  # fmt: skip
    assert job.status is JobStatus.QUEUED
    assert await counts(database) == {"media": 2, "episodes": 1, "episode_media": 2, "jobs": 1}


async def test_a_refused_job_takes_the_media_and_the_episode_back(stores) -> None:  # type: ignore[no-untyped-def]
    database, media_store, episode_store, job_store = stores
    items = [take(), take()]
    with pytest.raises(JobQuotaExceeded):
        await add_production(
            database, media=media_store, episodes=episode_store, jobs=job_store, items=items,
            quota=ROOMY, episode=episode_of(items), max_active_jobs=0,
        )  # fmt: skip
    assert await counts(database) == {"media": 0, "episodes": 0, "episode_media": 0, "jobs": 0}


async def test_a_file_past_the_quota_takes_the_files_before_it_back(stores) -> None:  # type: ignore[no-untyped-def]
    database, media_store, episode_store, job_store = stores
    items = [take(600), take(600)]
    with pytest.raises(MediaQuotaExceeded) as refused:
        await add_production(
            database, media=media_store, episodes=episode_store, jobs=job_store, items=items,
            quota=MediaQuota(storage_bytes=1000, files=100, duration_s=10**6),
            episode=episode_of(items), max_active_jobs=5,
        )  # fmt: skip
    assert refused.value.quota == "storage_bytes"
    assert await counts(database) == {"media": 0, "episodes": 0, "episode_media": 0, "jobs": 0}
