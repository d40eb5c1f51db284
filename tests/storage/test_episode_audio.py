"""An episode's audio file and its row change together, in the order that survives a crash."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import Database

from podplus.storage.database import connect, open_database
from podplus.storage.episodes import EpisodeAudio, EpisodeAudioFiles, EpisodeStore
from podplus.storage.files import FileStore
from podplus.storage.migrations import migrate
from podplus.storage.reports import AssemblyReport
from podplus.storage.schema import episodes, users
from tests.jobs.stand_in_engine import REPORT


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


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "media")


@pytest.fixture
def audio(database: Database, files: FileStore) -> EpisodeAudioFiles:
    return EpisodeAudioFiles(EpisodeStore(database), files)


async def episode_with_audio(database: Database, files: FileStore, audio_name: str | None) -> str:
    spec = json.dumps({"segments": [{"media_id": "m"}]})
    await database.execute(
        episodes.insert().values(
            id="e",
            owner_id="u",
            title="t",
            spec=spec,
            audio_name=audio_name,
            created_at=0,
            updated_at=0,
        )
    )
    if audio_name:
        files.episode_path(audio_name).write_bytes(b"old audio")
    return "e"


def rendered(tmp_path: Path) -> Path:
    path = tmp_path / "episode.mp3"
    path.write_bytes(b"new audio")
    return path


async def test_publishing_moves_the_file_in_then_names_it_then_drops_the_old_one(
    database: Database, files: FileStore, audio: EpisodeAudioFiles, tmp_path: Path
) -> None:
    episode_id = await episode_with_audio(database, files, "e-old.mp3")
    published = await audio.publish(
        episode_id,
        rendered(tmp_path),
        audio_name="e-new.mp3",
        duration_s=12.5,
        integrated_lufs=-16.0,
        true_peak_db=None,
    )
    assert published == EpisodeAudio(
        audio_name="e-new.mp3",
        audio_size_bytes=len(b"new audio"),
        duration_s=12.5,
        integrated_lufs=-16.0,
        true_peak_db=None,
    )
    episode = await EpisodeStore(database).get(episode_id)
    assert episode is not None and episode.audio_name == "e-new.mp3"
    assert files.episode_path("e-new.mp3").read_bytes() == b"new audio"
    assert not files.episode_path("e-old.mp3").exists()
    assert not (tmp_path / "episode.mp3").exists()


async def test_publishing_for_a_deleted_episode_publishes_nothing(
    audio: EpisodeAudioFiles, files: FileStore, tmp_path: Path
) -> None:
    published = await audio.publish(
        "gone",
        rendered(tmp_path),
        audio_name="gone-1.mp3",
        duration_s=1.0,
        integrated_lufs=None,
        true_peak_db=None,
    )
    assert published is None
    assert list((files.root / "episodes").iterdir()) == []


async def test_forgetting_clears_the_row_and_removes_the_file(
    database: Database, files: FileStore, audio: EpisodeAudioFiles
) -> None:
    episode_id = await episode_with_audio(database, files, "e-1.mp3")
    await audio.forget(episode_id)
    episode = await EpisodeStore(database).get(episode_id)
    assert episode is not None
    assert (episode.audio_name, episode.audio_size_bytes, episode.duration_s) == (None, None, None)
    assert not files.episode_path("e-1.mp3").exists()
    await audio.forget(episode_id)  # nothing left to forget: not an error


async def test_deleting_removes_the_rows_and_the_file(
    database: Database, files: FileStore, audio: EpisodeAudioFiles
) -> None:
    episode_id = await episode_with_audio(database, files, "e-1.mp3")
    await audio.delete(episode_id)
    assert await EpisodeStore(database).get(episode_id) is None
    assert not files.episode_path("e-1.mp3").exists()


async def test_audio_for_an_episode_deleted_meanwhile_is_not_left_on_disk(
    database: Database, files: FileStore, tmp_path: Path
) -> None:
    episode_id = await episode_with_audio(database, files, None)
    store = EpisodeStore(database)
    seen = await store.get(episode_id)

    class DeletedAfterItWasRead(EpisodeStore):
        async def get(self, episode_id: str, *, owner_id: str | None = None):  # type: ignore[no-untyped-def]
            await store.delete(episode_id)  # the owner deletes it while the job publishes
            return seen

    published = await EpisodeAudioFiles(DeletedAfterItWasRead(database), files).publish(
        episode_id,
        rendered(tmp_path),
        audio_name="e-job.mp3",
        duration_s=1.0,
        integrated_lufs=None,
        true_peak_db=None,
    )
    assert published is None
    assert not files.episode_path("e-job.mp3").exists()


# -- The engine's report on the audio ------------------------------------------------------


def a_report(title: str = "take") -> AssemblyReport:
    first: dict[str, object] = {**REPORT["parts"][0], "title": title}
    report = AssemblyReport.from_engine({**REPORT, "parts": [first]})
    assert report is not None
    return report


async def publish_with_report(
    audio: EpisodeAudioFiles, tmp_path: Path, episode_id: str, report: AssemblyReport | None
) -> EpisodeAudio | None:
    return await audio.publish(
        episode_id,
        rendered(tmp_path),
        audio_name=f"{episode_id}-{report.parts[0].title if report else 'none'}.mp3",
        duration_s=1.0,
        integrated_lufs=-16.0,
        true_peak_db=-1.5,
        report=report,
    )


async def stored_report(database: Database, episode_id: str) -> object:
    return await database.fetch_val(sa.select(episodes.c.report).where(episodes.c.id == episode_id))


async def test_the_report_is_written_with_the_audio_and_read_back_as_it_was(
    database: Database, files: FileStore, audio: EpisodeAudioFiles, tmp_path: Path
) -> None:
    episode_id = await episode_with_audio(database, files, None)
    published = await publish_with_report(audio, tmp_path, episode_id, a_report())
    assert published is not None and published.report == a_report()
    episode = await EpisodeStore(database).get(episode_id)
    assert episode is not None and episode.report == a_report()
    assert json.loads(str(await stored_report(database, episode_id))) == a_report().model_dump(
        mode="json"
    )


async def test_new_audio_replaces_the_report_even_with_none(
    database: Database, files: FileStore, audio: EpisodeAudioFiles, tmp_path: Path
) -> None:
    episode_id = await episode_with_audio(database, files, None)
    await publish_with_report(audio, tmp_path, episode_id, a_report("first"))
    await publish_with_report(audio, tmp_path, episode_id, a_report("second"))
    episode = await EpisodeStore(database).get(episode_id)
    assert episode is not None and episode.report == a_report("second")
    # An engine that reported nothing (or nothing that fit): no report of older audio stays.
    await publish_with_report(audio, tmp_path, episode_id, None)
    episode = await EpisodeStore(database).get(episode_id)
    assert episode is not None and episode.audio_name == "e-none.mp3" and episode.report is None
    assert await stored_report(database, episode_id) is None


async def test_the_report_goes_with_forgotten_audio(
    database: Database, files: FileStore, audio: EpisodeAudioFiles, tmp_path: Path
) -> None:
    episode_id = await episode_with_audio(database, files, None)
    await publish_with_report(audio, tmp_path, episode_id, a_report())
    await audio.forget(episode_id)
    episode = await EpisodeStore(database).get(episode_id)
    assert episode is not None and episode.audio_name is None and episode.report is None
    assert await stored_report(database, episode_id) is None


async def test_the_report_goes_when_the_episode_is_changed(
    database: Database, files: FileStore, audio: EpisodeAudioFiles, tmp_path: Path
) -> None:
    episode_id = await episode_with_audio(database, files, None)
    await publish_with_report(audio, tmp_path, episode_id, a_report())
    store = EpisodeStore(database)
    before = await store.get(episode_id)
    assert before is not None
    await store.update(
        episode_id,
        title="t2",
        description="",
        spec=before.spec,
        media_ids=set(),
        show_id=None,
    )
    episode = await store.get(episode_id)
    assert episode is not None and episode.audio_name is None and episode.report is None
    assert await stored_report(database, episode_id) is None


async def test_the_report_goes_with_a_deleted_episode(
    database: Database, files: FileStore, audio: EpisodeAudioFiles, tmp_path: Path
) -> None:
    episode_id = await episode_with_audio(database, files, None)
    await publish_with_report(audio, tmp_path, episode_id, a_report())
    await audio.delete(episode_id)
    assert await database.fetch_all(sa.select(episodes.c.report)) == []
    assert list((files.root / "episodes").iterdir()) == []
