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
from podplus.jobs.assembly import AssemblyStores, JobOutcome, RunEngine, assemble_episode
from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.supervisor import EngineOutcome, Supervisor
from podplus.storage.episodes import EpisodeAudioFiles, EpisodeStore
from podplus.storage.files import FileStore
from podplus.storage.jobs import FailureCause, Job, JobStatus, JobStore
from podplus.storage.media import MediaStore
from podplus.storage.processes import ProcessStore
from podplus.storage.reports import AssemblyReport
from podplus.storage.schema import episodes, media
from tests.jobs.conftest import stand_in_command
from tests.jobs.stand_in_engine import REPORT, named


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "media")


@pytest.fixture
def stores(database: Database, files: FileStore) -> AssemblyStores:
    episode_store = EpisodeStore(database)
    return AssemblyStores(
        episodes=episode_store,
        media=MediaStore(database),
        files=files,
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
    return await JobStore(database).enqueue(owner_id="u1", episode_id=episode_id)


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
    database: Database, stores: AssemblyStores, supervisor: Supervisor, files: FileStore, mode: str
) -> None:
    job = await queued_job(database)
    if mode in ("cancel", "shutdown"):
        running = asyncio.create_task(assemble(job, stores, supervisor, "child-then-hang"))
        while not supervisor.children:
            await asyncio.sleep(0.05)
        assert any(files.work_dir(job.id).glob(".podplus-*"))
        if mode == "cancel":
            await supervisor.cancel(job.id)
        else:
            await supervisor.shutdown()
        await running
    else:
        await assemble(job, stores, supervisor, mode)
    assert not files.work_dir(job.id).exists()


async def test_a_folder_an_earlier_attempt_left_is_cleared_before_the_engine_starts(
    database: Database, stores: AssemblyStores, supervisor: Supervisor, files: FileStore
) -> None:
    # The first attempt's host died mid-run: its intermediate is of no use to this one.
    job = await queued_job(database)
    stale = files.work_dir(job.id) / ".podplus-earlier"
    stale.mkdir(parents=True)
    (stale / "mix.f32le").write_bytes(b"\0" * 1024)
    seen: list[list[str]] = []
    run_engine = engine(supervisor, job)

    async def looking(argv: list[str]) -> EngineOutcome:
        seen.append(sorted(path.name for path in files.work_dir(job.id).iterdir()))
        return await run_engine(argv)

    outcome = await assemble_episode(
        job, stores=stores, engine_command=stand_in_command("ok"), run_engine=looking
    )
    assert outcome == JobOutcome(JobStatus.SUCCEEDED)
    assert seen == [["manifest.json"]]
    assert not files.work_dir(job.id).exists()


async def test_the_work_folder_is_gone_when_assembly_itself_breaks(
    database: Database, stores: AssemblyStores, files: FileStore
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
    assert not files.work_dir(job.id).exists()


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
