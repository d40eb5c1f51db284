"""One assembly, without a queue: from a job to published audio, and a clean work folder.

The engine is the stand-in, run under a real supervisor, so each ending can be forced.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import Database

from podplus.ids import new_id
from podplus.jobs.assembly import (
    STORE_DOWN,
    AssemblyStores,
    JobOutcome,
    RunEngine,
    assemble_episode,
)
from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.scratch import Scratch
from podplus.jobs.supervisor import EngineOutcome, Supervisor
from podplus.storage.episodes import EpisodeAudioFiles, EpisodeStore
from podplus.storage.files import FileStore
from podplus.storage.jobs import FailureCause, Job, JobStatus, JobStore
from podplus.storage.local_objects import LocalObjects
from podplus.storage.media import MediaStore
from podplus.storage.objects import episode_key
from podplus.storage.processes import ProcessStore
from podplus.storage.reports import AssemblyReport
from podplus.storage.s3_objects import S3Objects
from podplus.storage.schema import episodes, media
from tests.conftest import S3Server
from tests.jobs.conftest import s3_objects, stand_in_command, unreachable
from tests.jobs.stand_in_engine import REPORT, named


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "media")


@pytest.fixture
def scratch(tmp_path: Path) -> Scratch:
    return Scratch(
        tmp_path / "scratch", objects=LocalObjects(tmp_path / "media"), cache_bytes=1 << 20
    )


@pytest.fixture
def stores(database: Database, files: FileStore, scratch: Scratch) -> AssemblyStores:
    episode_store = EpisodeStore(database)
    return AssemblyStores(
        episodes=episode_store,
        media=MediaStore(database),
        scratch=scratch,
        audio=EpisodeAudioFiles(episode_store, files),
    )


@pytest.fixture
def supervisor(database: Database) -> Supervisor:
    return Supervisor(
        store=ProcessStore(database), identity=WorkerIdentity.current(), nice=0, kill_grace_s=0.5
    )


async def queued_job(database: Database, *, audio_name: str | None = None) -> Job:
    """A one-part episode of user ``u1``, and a job for it as a runner would have claimed it."""
    media_id, episode_id = new_id(), new_id()
    await database.execute(
        media.insert().values(
            id=media_id,
            owner_id="u1",
            kind="content",
            filename="talk.wav",
            storage_name=f"{media_id}.wav",
            size_bytes=1,
            created_at=0,
        )
    )
    await database.execute(
        episodes.insert().values(
            id=episode_id,
            owner_id="u1",
            title="Ep",
            spec=json.dumps({"segments": [{"media_id": media_id}]}),
            audio_name=audio_name,
            created_at=0,
            updated_at=0,
        )
    )
    jobs = JobStore(database)
    queued = await jobs.enqueue(owner_id="u1", episode_id=episode_id)
    # Claimed: its audio is published only while this attempt is the job's current one.
    claimed = await jobs.start(queued.id, worker="runner")
    assert claimed is not None
    return claimed


def engine(supervisor: Supervisor, job: Job, *, timeout_s: float = 30) -> RunEngine:
    async def ignore(_: object) -> None:
        pass

    async def run(argv: list[str]) -> EngineOutcome:
        return await supervisor.run(
            job_id=job.id, argv=argv, timeout_s=timeout_s, on_event=ignore, on_start=ignore
        )

    return run


def leaving_a_temp_folder(run_engine: RunEngine) -> RunEngine:
    """The engine, but its ``.podplus-*`` folder stays behind whatever the ending."""

    async def run(argv: list[str]) -> EngineOutcome:
        work_dir = Path(argv[argv.index("-o") + 1]).parent
        (work_dir / ".podplus-left").mkdir()
        (work_dir / ".podplus-left" / "mix.wav").write_bytes(b"RIFF")
        return await run_engine(argv)

    return run


async def assemble(
    job: Job, stores: AssemblyStores, supervisor: Supervisor, mode: str, **kw: float
) -> JobOutcome:
    return await assemble_episode(
        job,
        stores=stores,
        engine_command=stand_in_command(mode),
        run_engine=leaving_a_temp_folder(engine(supervisor, job, **kw)),
    )


async def test_a_finished_engine_publishes_the_audio_and_records_it(
    database: Database, stores: AssemblyStores, supervisor: Supervisor, files: FileStore
) -> None:
    job = await queued_job(database)
    outcome = await assemble(job, stores, supervisor, "ok")
    assert outcome == JobOutcome(JobStatus.SUCCEEDED)
    episode = await stores.episodes.get(job.episode_id)
    assert episode is not None and episode.audio_name == f"{job.episode_id}-{job.id}.mp3"
    assert files.episode_path(episode.audio_name).read_bytes() == b"ID3 not really audio"
    assert episode.audio_size_bytes == len(b"ID3 not really audio")
    assert (episode.duration_s, episode.integrated_lufs, episode.true_peak_db) == (1.0, -16.0, -1.5)


async def test_new_audio_replaces_the_old_file(
    database: Database, stores: AssemblyStores, supervisor: Supervisor, files: FileStore
) -> None:
    files.episode_path("old.mp3").write_bytes(b"last week's")
    job = await queued_job(database, audio_name="old.mp3")
    await assemble(job, stores, supervisor, "ok")
    episode = await stores.episodes.get(job.episode_id)
    assert episode is not None and episode.audio_name == f"{job.episode_id}-{job.id}.mp3"
    assert not files.episode_path("old.mp3").exists()


@pytest.mark.parametrize(
    ("mode", "cause", "error"),
    [
        ("fail", FailureCause.ENGINE_ERROR, "The assembly failed: ffmpeg failed: Invalid data"),
        ("crash", FailureCause.CRASHED, "engine crashed (killed by SIGSEGV)"),
        ("child-then-hang", FailureCause.TIMEOUT, "timeout"),
    ],
)
async def test_a_failed_engine_is_a_failure_with_its_cause(
    database: Database,
    stores: AssemblyStores,
    supervisor: Supervisor,
    mode: str,
    cause: FailureCause,
    error: str,
) -> None:
    job = await queued_job(database, audio_name="kept.mp3")
    outcome = await assemble(job, stores, supervisor, mode, timeout_s=1.0)
    assert (outcome.status, outcome.cause) == (JobStatus.FAILED, cause)
    assert outcome.error is not None and outcome.error.startswith(error)
    episode = await stores.episodes.get(job.episode_id)
    assert episode is not None and episode.audio_name == "kept.mp3"


async def test_a_cancelled_engine_is_a_cancel_not_a_failure(
    database: Database, stores: AssemblyStores, supervisor: Supervisor
) -> None:
    job = await queued_job(database)
    running = asyncio.create_task(assemble(job, stores, supervisor, "child-then-hang"))
    while not supervisor.children:
        await asyncio.sleep(0.05)
    await supervisor.cancel(job.id)
    assert await running == JobOutcome(JobStatus.CANCELLED)


async def test_a_shutdown_sends_the_job_back_to_the_queue(
    database: Database, stores: AssemblyStores, supervisor: Supervisor
) -> None:
    job = await queued_job(database)
    running = asyncio.create_task(assemble(job, stores, supervisor, "hang"))
    while not supervisor.children:
        await asyncio.sleep(0.05)
    await supervisor.shutdown()
    assert await running == JobOutcome(JobStatus.QUEUED)


@pytest.mark.parametrize("mode", ["ok", "fail", "crash", "cancel", "shutdown"])
async def test_the_work_folder_is_gone_whatever_the_ending(
    database: Database, stores: AssemblyStores, supervisor: Supervisor, scratch: Scratch, mode: str
) -> None:
    job = await queued_job(database)
    if mode in ("cancel", "shutdown"):
        running = asyncio.create_task(assemble(job, stores, supervisor, "child-then-hang"))
        while not supervisor.children:
            await asyncio.sleep(0.05)
        assert any(scratch.work_dir(job.id).glob(".podplus-*"))
        if mode == "cancel":
            await supervisor.cancel(job.id)
        else:
            await supervisor.shutdown()
        await running
    else:
        await assemble(job, stores, supervisor, mode)
    assert not scratch.work_dir(job.id).exists()


async def test_a_folder_an_earlier_attempt_left_is_cleared_before_the_engine_starts(
    database: Database, stores: AssemblyStores, supervisor: Supervisor, scratch: Scratch
) -> None:
    # The first attempt's host died mid-run: its intermediate is of no use to this one.
    job = await queued_job(database)
    stale = scratch.work_dir(job.id) / ".podplus-earlier"
    stale.mkdir(parents=True)
    (stale / "mix.f32le").write_bytes(b"\0" * 1024)
    seen: list[list[str]] = []
    run_engine = engine(supervisor, job)

    async def looking(argv: list[str]) -> EngineOutcome:
        seen.append(sorted(path.name for path in scratch.work_dir(job.id).iterdir()))
        return await run_engine(argv)

    outcome = await assemble_episode(
        job, stores=stores, engine_command=stand_in_command("ok"), run_engine=looking
    )
    assert outcome == JobOutcome(JobStatus.SUCCEEDED)
    assert seen == [["manifest.json"]]
    assert not scratch.work_dir(job.id).exists()


async def test_the_work_folder_is_gone_when_assembly_itself_breaks(
    database: Database, stores: AssemblyStores, scratch: Scratch
) -> None:
    job = await queued_job(database)

    async def broken(argv: list[str]) -> EngineOutcome:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        await assemble_episode(
            job,
            stores=stores,
            engine_command=stand_in_command("ok"),
            run_engine=leaving_a_temp_folder(broken),
        )
    assert not scratch.work_dir(job.id).exists()


async def test_a_deleted_episode_or_media_fails_as_input_missing_without_running_the_engine(
    database: Database, stores: AssemblyStores
) -> None:
    ran: list[list[str]] = []

    async def must_not_run(argv: list[str]) -> EngineOutcome:
        ran.append(argv)
        raise AssertionError("the engine ran")

    no_media = await queued_job(database)
    for item in await database.fetch_all(media.select()):
        await stores.media.delete(item["id"])
    no_episode = await queued_job(database)
    await stores.episodes.delete(no_episode.episode_id)
    outcomes = [
        await assemble_episode(
            job, stores=stores, engine_command=["engine"], run_engine=must_not_run
        )
        for job in (no_media, no_episode)
    ]
    assert outcomes == [
        JobOutcome.failed(FailureCause.INPUT_MISSING, "a media file this episode uses was deleted"),
        JobOutcome.failed(FailureCause.INPUT_MISSING, "the episode was deleted"),
    ]
    assert ran == []


async def test_an_engine_that_claims_success_without_a_file_is_an_engine_error(
    database: Database, stores: AssemblyStores
) -> None:
    job = await queued_job(database)

    async def liar(argv: list[str]) -> EngineOutcome:
        return EngineOutcome(returncode=0, done={"event": "done"}, stderr_tail="", seconds=0.1)

    outcome = await assemble_episode(job, stores=stores, engine_command=["e"], run_engine=liar)
    assert (outcome.status, outcome.cause) == (JobStatus.FAILED, FailureCause.ENGINE_ERROR)


async def test_the_engines_report_is_published_with_the_audio(
    database: Database, stores: AssemblyStores, supervisor: Supervisor
) -> None:
    job = await queued_job(database)
    assert await assemble(job, stores, supervisor, "ok") == JobOutcome(JobStatus.SUCCEEDED)
    episode = await stores.episodes.get(job.episode_id)
    # The part is titled as the manifest says: after its file, talk.wav.
    expected = AssemblyReport.from_engine(named(REPORT, "talk"))
    assert episode is not None and episode.report == expected


async def test_a_report_that_does_not_fit_is_logged_and_dropped_and_the_job_succeeds(
    database: Database,
    stores: AssemblyStores,
    supervisor: Supervisor,
    files: FileStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = await queued_job(database)
    with caplog.at_level(logging.WARNING, logger="podplus.jobs.assembly"):
        outcome = await assemble(job, stores, supervisor, "bad-report")
    assert outcome == JobOutcome(JobStatus.SUCCEEDED)
    episode = await stores.episodes.get(job.episode_id)
    assert episode is not None and episode.audio_name == f"{job.episode_id}-{job.id}.mp3"
    assert files.episode_path(episode.audio_name).exists()
    assert episode.report is None
    stored = await database.fetch_val(
        sa.select(episodes.c.report).where(episodes.c.id == job.episode_id)
    )
    assert stored is None
    (refused,) = [r.getMessage() for r in caplog.records if "report_refused" in r.getMessage()]
    assert f"job_id={job.id}" in refused and "parts[0].before.loudness_lufs" in refused


# -- media in an S3 store (the real test server) --------------------------------------------


def s3_stores(
    database: Database, files: FileStore, scratch: Scratch, audio: S3Objects
) -> AssemblyStores:
    """Parts through ``scratch`` (over whichever store it was made with), audio to ``audio``."""
    episode_store = EpisodeStore(database)
    return AssemblyStores(
        episodes=episode_store,
        media=MediaStore(database),
        scratch=scratch,
        audio=EpisodeAudioFiles(episode_store, files, audio),
    )


def scratch_over(tmp_path: Path, objects: S3Objects) -> Scratch:
    return Scratch(tmp_path / "scratch", objects=objects, cache_bytes=1 << 20)


async def upload_parts(database: Database, objects: S3Objects, tmp_path: Path) -> bytes:
    """Store every media row's file in ``objects``; returns the content."""
    content = b"RIFF a recording"
    source = tmp_path / "take.wav"
    for storage_name in [row["storage_name"] for row in await database.fetch_all(media.select())]:
        source.write_bytes(content)
        await objects.put_file(storage_name, source)
    return content


async def test_media_in_s3_is_assembled_from_local_copies_and_the_audio_uploaded(
    database: Database,
    supervisor: Supervisor,
    files: FileStore,
    tmp_path: Path,
    s3_server: S3Server,
) -> None:
    remote = s3_objects(s3_server)
    scratch = scratch_over(tmp_path, remote)
    stores = s3_stores(database, files, scratch, remote)
    job = await queued_job(database)
    content = await upload_parts(database, remote, tmp_path)
    parts: list[Path] = []
    run_engine = engine(supervisor, job)

    async def reading_the_manifest(argv: list[str]) -> EngineOutcome:
        manifest = json.loads(Path(argv[argv.index("assemble") + 1]).read_text())
        parts.extend(Path(segment["path"]) for segment in manifest["segments"])
        return await run_engine(argv)

    outcome = await assemble_episode(
        job, stores=stores, engine_command=stand_in_command("ok"), run_engine=reading_the_manifest
    )
    assert outcome == JobOutcome(JobStatus.SUCCEEDED)
    # The engine read a local copy in the scratch cache, fetched once and kept for the next job.
    [part] = parts
    assert part.is_relative_to(scratch.root / "cache") and part.read_bytes() == content
    assert scratch.fetches == 1
    episode = await stores.episodes.get(job.episode_id)
    assert episode is not None and episode.audio_name == f"{job.episode_id}-{job.id}.mp3"
    key = episode_key(episode.audio_name)
    assert b"".join([chunk async for chunk in remote.read(key)]) == b"ID3 not really audio"
    assert not files.episode_path(episode.audio_name).exists()
    assert not scratch.work_dir(job.id).exists()


@pytest.mark.parametrize("down", ["fetching", "uploading"])
async def test_a_store_that_is_down_fails_the_attempt_cleanly(
    database: Database,
    supervisor: Supervisor,
    files: FileStore,
    tmp_path: Path,
    s3_server: S3Server,
    down: str,
) -> None:
    remote = s3_objects(s3_server)
    # The same store, reached where nothing answers: for the parts, or for the audio.
    gone = unreachable(s3_server)
    scratch = scratch_over(tmp_path, gone if down == "fetching" else remote)
    stores = s3_stores(database, files, scratch, gone if down == "uploading" else remote)
    job = await queued_job(database, audio_name="kept.mp3")
    await upload_parts(database, remote, tmp_path)
    ran: list[list[str]] = []
    run_engine = engine(supervisor, job)

    async def recording(argv: list[str]) -> EngineOutcome:
        ran.append(argv)
        return await run_engine(argv)

    outcome = await assemble_episode(
        job, stores=stores, engine_command=stand_in_command("ok"), run_engine=recording
    )
    assert outcome.status is JobStatus.FAILED
    assert (outcome.cause, outcome.error) == (FailureCause.STORE_UNAVAILABLE, STORE_DOWN)
    assert len(ran) == (0 if down == "fetching" else 1)
    episode = await stores.episodes.get(job.episode_id)
    assert episode is not None and episode.audio_name == "kept.mp3"
    assert await remote.stat(episode_key(f"{job.episode_id}-{job.id}.mp3")) is None
    assert not scratch.work_dir(job.id).exists()
    assert [path.name for path in (scratch.root / "cache" / ".incoming").iterdir()] == []


async def test_an_engine_error_names_the_part_not_the_scratch_paths(
    database: Database, files: FileStore, tmp_path: Path, s3_server: S3Server
) -> None:
    remote = s3_objects(s3_server)
    scratch = scratch_over(tmp_path, remote)
    stores = s3_stores(database, files, scratch, remote)
    job = await queued_job(database)
    await upload_parts(database, remote, tmp_path)

    async def failing_on_the_part(argv: list[str]) -> EngineOutcome:
        # What the real engine writes about a part it can't read and a file it can't write.
        manifest = json.loads(Path(argv[argv.index("assemble") + 1]).read_text())
        part = manifest["segments"][0]["path"]
        mix = Path(argv[argv.index("-o") + 1]).parent / ".podplus-x1" / "mix.f32le"
        stderr = (
            f"podplus-engine: {part}: ffprobe can't read it; "
            f"Error writing to 'file:{mix}': No space left on device\n"
        )
        return EngineOutcome(returncode=3, done=None, stderr_tail=stderr, seconds=0.1)

    outcome = await assemble_episode(
        job, stores=stores, engine_command=["engine"], run_engine=failing_on_the_part
    )
    assert (outcome.status, outcome.cause) == (JobStatus.FAILED, FailureCause.ENGINE_ERROR)
    assert outcome.error == (
        "The assembly failed: talk.wav: ffprobe can't read it; "
        "Error writing to 'mix.f32le': No space left on device"
    )
    assert outcome.detail is not None and str(scratch.root) in outcome.detail
