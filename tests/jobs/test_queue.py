"""The job queue across processes: an API that only queues, and real ``podplus worker``s.

On PostgreSQL the carrier is procrastinate (dispatch by LISTEN/NOTIFY, one live job per
episode by its queueing lock, cancel by abort, crash recovery from missed heartbeats);
on SQLite it is the embedded runner, whose live workers recover a dead one's job too.
Workers run with short heartbeats, stall thresholds and leases, so crashes heal quickly.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from databases import Database

from podplus.jobs.queue import QUEUE_NAME, TASK_NAME, queue_app
from podplus.jobs.scratch import Scratch
from podplus.settings import Settings
from podplus.storage.database import connect, open_database
from podplus.storage.episodes import EpisodeAudioFiles, EpisodeStore
from podplus.storage.files import FileStore
from podplus.storage.jobs import FailureCause, Job, JobStatus, JobStore
from podplus.storage.local_objects import LocalObjects
from tests.api import Client, finished, new_episode, served, wait_for
from tests.jobs.worker_processes import (
    WorkerProcess,
    engine_pids,
    eventually,
    start_worker,
    still_running,
)

on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

HEARTBEAT_S = 0.5
STALL_S = 2.0
# Only LISTEN/NOTIFY can start a job quickly when the fallback poll is an hour.
QUEUE_ENV = {
    "PODPLUS_WORKER_HEARTBEAT_S": str(HEARTBEAT_S),
    "PODPLUS_WORKER_STALL_S": str(STALL_S),
    "PODPLUS_JOB_POLL_INTERVAL_S": "3600",
    "PODPLUS_MAX_CONCURRENT_ASSEMBLIES": "2",
    "PODPLUS_SHUTDOWN_GRACE_S": "1",
}


@asynccontextmanager
async def api(settings: Settings, database_url: str) -> AsyncIterator[tuple[Client, Database]]:
    """An in-process API that queues but runs nothing, and a connection to read rows."""
    on_db = replace(
        settings, database_url=database_url, scratch_dir=settings.data_dir / "scratch-api"
    )
    async with served(on_db, "ok", run_jobs=False) as client:
        database = open_database(database_url)
        await connect(database)
        try:
            yield client, database
        finally:
            await database.disconnect()


async def submit(client: Client, episode_id: str) -> str:
    http, auth = client
    response = await http.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


async def row(database: Database, job_id: str) -> Job:
    job = await JobStore(database).get(job_id)
    assert job is not None
    return job


async def listening(database: Database, count: int) -> None:
    """Wait until ``count`` workers have registered and LISTEN for new jobs."""

    async def ready() -> bool:
        listeners = await database.fetch_val(
            "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'"
        )
        workers = await database.fetch_val("SELECT count(*) FROM procrastinate_workers")
        return bool(listeners >= count and workers >= count)

    await eventually(ready, what=f"{count} workers listening")


async def queue_status(database: Database, queue_job_id: int | None) -> str:
    return str(
        await database.fetch_val(
            "SELECT status FROM procrastinate_jobs WHERE id = :id", {"id": queue_job_id}
        )
    )


async def engine_group(database: Database, job_id: str) -> list[psutil.Process]:
    """The running engine of ``job_id`` and everything it started."""
    pids = await eventually(lambda: engine_pids(database, job_id), what="the engine started")
    leader = psutil.Process(pids[-1])
    return [leader, *leader.children(recursive=True)]


def stop_all(*workers: WorkerProcess) -> None:
    for worker in workers:
        worker.stop()


@on_postgresql
async def test_a_worker_runs_queued_jobs_started_by_notify_not_by_polling(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with api(settings, database_url) as (client, database):
        worker = start_worker(
            tmp_path, name="w1", database_url=database_url, mode="ok", **QUEUE_ENV
        )
        try:
            await listening(database, 1)
            latencies_s = []
            for _ in range(2):
                # Each job is queued after the previous one ended: the worker is then
                # idle, waiting on LISTEN with its next poll an hour away.
                episode_id = await new_episode(*client, tmp_path)
                queued_at = time.time()
                job_id = await submit(client, episode_id)
                done = await wait_for(*client, job_id, finished)
                job = await row(database, job_id)
                assert done["status"] == "succeeded"
                assert (job.attempts, job.lease_owner) == (1, "w1")
                assert await queue_status(database, job.queue_job_id) == "succeeded"
                assert len(await engine_pids(database, job_id)) == 1
                assert job.started_at is not None
                latencies_s.append(job.started_at - queued_at)
            print(f"dispatch latency (202 → row running) s: {latencies_s}")
        finally:
            stop_all(worker)


@on_postgresql
async def test_one_live_job_per_episode_is_enforced_by_the_queue(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with api(settings, database_url) as (client, database):
        http, auth = client
        episode_id = await new_episode(http, auth, tmp_path)
        first = await submit(client, episode_id)
        again = await http.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
        assert again.status_code == 409
        # Cancelled while queued: our row and its procrastinate job both.
        cancelled = await http.post(f"/api/jobs/{first}/cancel", headers=auth)
        assert cancelled.json()["status"] == "cancelled"
        assert await queue_status(database, (await row(database, first)).queue_job_id) == (
            "cancelled"
        )
        # A job the queue holds for the episode, which our table knows nothing of: the
        # queueing lock refuses the next one, and the refused row is not left behind.
        app = queue_app(database_url, max_connections=2)
        async with app.open_async():
            await app.configure_task(
                TASK_NAME, queue=QUEUE_NAME, lock=episode_id, queueing_lock=episode_id
            ).defer_async(job_id="someone-elses")
        refused = await http.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
        rows = await database.fetch_all(
            "SELECT id, status FROM jobs WHERE episode_id = :id", {"id": episode_id}
        )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == again.json()["error"]["code"]
    assert [(r["id"], r["status"]) for r in rows] == [(first, "cancelled")]


@on_postgresql
async def test_cancel_kills_the_engine_group_on_the_worker_that_runs_it(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with api(settings, database_url) as (client, database):
        http, auth = client
        worker = start_worker(
            tmp_path, name="w1", database_url=database_url, mode="child-then-hang", **QUEUE_ENV
        )
        try:
            job_id = await submit(client, await new_episode(http, auth, tmp_path))
            await wait_for(http, auth, job_id, lambda job: job["phase"] == "render")
            group = await engine_group(database, job_id)
            assert len(group) == 2  # the engine and its stand-in ffmpeg
            asked_at = time.monotonic()
            response = await http.post(f"/api/jobs/{job_id}/cancel", headers=auth)
            assert response.status_code == 202
            alive = still_running(group, timeout_s=2)
            gone_s = time.monotonic() - asked_at
            done = await wait_for(http, auth, job_id, finished)
            job = await row(database, job_id)
            print(f"cancel → engine group gone s: {gone_s:.3f}")
            assert alive == []
            assert done["status"] == "cancelled"
            assert job.failure_cause is None
            aborted = await eventually(
                lambda: _status_is(database, job.queue_job_id, "aborted"), what="aborted"
            )
            assert aborted
            assert worker.process.poll() is None  # the worker lives on
        finally:
            stop_all(worker)


async def _status_is(database: Database, queue_job_id: int | None, status: str) -> bool:
    return await queue_status(database, queue_job_id) == status


@on_postgresql
async def test_a_job_of_a_killed_worker_finishes_once_on_another_within_the_stall_bound(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with api(settings, database_url) as (client, database):
        http, auth = client
        doomed = start_worker(
            tmp_path, name="doomed", database_url=database_url, mode="hang", **QUEUE_ENV
        )
        survivor = None
        try:
            job_id = await submit(client, await new_episode(http, auth, tmp_path))
            group = await engine_group(database, job_id)
            survivor = start_worker(
                tmp_path, name="survivor", database_url=database_url, mode="ok", **QUEUE_ENV
            )
            await listening(database, 2)
            killed_at = time.time()
            doomed.kill_hard()
            # The engine dies with its worker (parent-death signal), on no one's order.
            alive = still_running(group, timeout_s=5)
            assert alive == []
            done = await wait_for(http, auth, job_id, finished, timeout_s=STALL_S + 20)
            job = await row(database, job_id)
            assert done["status"] == "succeeded"
            assert job.started_at is not None
            recovery_s = job.started_at - killed_at
            print(f"kill -9 → running on the survivor s: {recovery_s:.3f}")
            # Silent for STALL_S, seen at the next sweep (every heartbeat), started at
            # once by NOTIFY: the bound the README states, from the settings alone.
            assert recovery_s <= STALL_S + 2 * HEARTBEAT_S
            assert (job.attempts, job.lease_owner) == (2, "survivor")
            assert len(await engine_pids(database, job_id)) == 2  # one start on each
            assert survivor.log.count(f"dispatched episode_id={job.episode_id}") == 1
            assert await queue_status(database, job.queue_job_id) == "succeeded"
        finally:
            stop_all(doomed, *([survivor] if survivor else []))


@on_postgresql
async def test_a_stalled_job_past_the_attempt_cap_fails_as_interrupted_and_leaves_the_queue(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    capped = {**QUEUE_ENV, "PODPLUS_ASSEMBLY_MAX_ATTEMPTS": "1"}
    async with api(settings, database_url) as (client, database):
        http, auth = client
        doomed = start_worker(
            tmp_path, name="doomed", database_url=database_url, mode="hang", **capped
        )
        survivor = None
        try:
            job_id = await submit(client, await new_episode(http, auth, tmp_path))
            await engine_group(database, job_id)
            survivor = start_worker(
                tmp_path, name="survivor", database_url=database_url, mode="ok", **capped
            )
            await listening(database, 2)
            doomed.kill_hard()
            done = await wait_for(http, auth, job_id, finished, timeout_s=STALL_S + 20)
            job = await row(database, job_id)
            await eventually(
                lambda: _status_is(database, job.queue_job_id, "failed"), what="finished"
            )
            starts = await engine_pids(database, job_id)
        finally:
            stop_all(doomed, *([survivor] if survivor else []))
    assert (done["status"], done["error"]) == ("failed", "interrupted")
    assert job.failure_cause is FailureCause.INTERRUPTED
    assert len(starts) == 1  # never started again


@on_postgresql
async def test_a_drained_worker_hands_its_job_back_without_counting_the_attempt(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    # A grace longer than the stall threshold: the drain must keep the worker alive in
    # the others' eyes, or one of them would take the job while it still runs here.
    draining_env = {**QUEUE_ENV, "PODPLUS_SHUTDOWN_GRACE_S": str(STALL_S + 1)}
    async with api(settings, database_url) as (client, database):
        http, auth = client
        draining = start_worker(
            tmp_path, name="draining", database_url=database_url, mode="hang", **draining_env
        )
        taker = None
        try:
            job_id = await submit(client, await new_episode(http, auth, tmp_path))
            group = await engine_group(database, job_id)
            # An idle worker, waiting on LISTEN with its next poll an hour away.
            taker = start_worker(
                tmp_path, name="taker", database_url=database_url, mode="ok", **QUEUE_ENV
            )
            await listening(database, 2)
            assert draining.stop() == 0  # SIGTERM: grace, then hand back
            alive = still_running(group, timeout_s=2)
            done = await wait_for(http, auth, job_id, finished, timeout_s=30)
            job = await row(database, job_id)
            starts = await engine_pids(database, job_id)
        finally:
            stop_all(draining, *([taker] if taker else []))
    assert alive == []
    assert done["status"] == "succeeded"
    # The drained attempt was handed back uncounted: the taker's is the first that counts.
    assert (job.attempts, job.lease_owner, len(starts)) == (1, "taker", 2)
    assert taker is not None and "stalled_job" not in taker.log


async def test_on_sqlite_a_live_worker_finishes_a_killed_workers_job_without_a_restart(
    settings: Settings, tmp_path: Path
) -> None:
    embedded = {"PODPLUS_JOB_LEASE_S": "1", "PODPLUS_JOB_POLL_INTERVAL_S": "0.1"}
    async with api(settings, settings.database_url) as (client, database):
        http, auth = client
        doomed = start_worker(
            tmp_path, name="doomed", database_url=settings.database_url, mode="hang", **embedded
        )
        survivor = None
        try:
            job_id = await submit(client, await new_episode(http, auth, tmp_path))
            group = await engine_group(database, job_id)
            survivor = start_worker(
                tmp_path,
                name="survivor",
                database_url=settings.database_url,
                mode="ok",
                **embedded,
            )
            doomed.kill_hard()
            alive = still_running(group, timeout_s=5)
            done = await wait_for(http, auth, job_id, finished, timeout_s=30)
            job = await row(database, job_id)
            starts = await engine_pids(database, job_id)
        finally:
            stop_all(doomed, *([survivor] if survivor else []))
    assert alive == []
    assert done["status"] == "succeeded"
    assert job.attempts == 2
    assert len(starts) == 2  # one on each worker: finished once
    assert survivor is not None and survivor.log.count("event=tasks.assemble.dispatched") == 1


# -- defects found in review: each test reproduces one ------------------------------------


@on_postgresql
async def test_a_row_left_running_after_its_queue_job_ended_is_recovered_and_run_again(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with api(settings, database_url) as (client, database):
        http, auth = client
        job_id = await submit(client, await new_episode(http, auth, tmp_path))
        lost = (await row(database, job_id)).queue_job_id
        # What a worker leaves when the database fails after it started our row (its
        # ``record`` raises): procrastinate fails its job, and our row stays running.
        await database.execute(
            "UPDATE procrastinate_jobs SET status = 'failed' WHERE id = :id", {"id": lost}
        )
        assert await JobStore(database).start(job_id, worker="lost", queue_job_id=lost)
        worker = start_worker(
            tmp_path, name="w1", database_url=database_url, mode="ok", **QUEUE_ENV
        )
        try:
            done = await wait_for(http, auth, job_id, finished, timeout_s=30)
            job = await row(database, job_id)
            statuses = [await queue_status(database, id_) for id_ in (lost, job.queue_job_id)]
        finally:
            stop_all(worker)
    assert done["status"] == "succeeded"
    assert (job.attempts, job.lease_owner) == (2, "w1")  # the lost attempt counted
    assert job.queue_job_id != lost
    assert statuses == ["failed", "succeeded"]
    assert "event=queue_worker.orphaned_job" in worker.log


@on_postgresql
async def test_a_stalled_jobs_retry_is_queued_only_once_its_row_change_has_committed(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with api(settings, database_url) as (client, database):
        http, auth = client
        doomed = start_worker(
            tmp_path, name="doomed", database_url=database_url, mode="hang", **QUEUE_ENV
        )
        survivor = None
        try:
            first = await submit(client, await new_episode(http, auth, tmp_path))
            second = await submit(client, await new_episode(http, auth, tmp_path))
            await engine_group(database, first)
            await engine_group(database, second)
            # The second row can't be put back in the queue: its change fails, as a
            # database error would, and rolls back.
            await database.execute(
                f"""CREATE FUNCTION refuse_requeue() RETURNS trigger AS $$
                BEGIN
                    IF NEW.id = '{second}' AND NEW.status = 'queued' THEN
                        RAISE EXCEPTION 'refused by the test';
                    END IF;
                    RETURN NEW;
                END $$ LANGUAGE plpgsql"""
            )
            await database.execute(
                "CREATE TRIGGER refuse_requeue BEFORE UPDATE ON jobs"
                " FOR EACH ROW EXECUTE FUNCTION refuse_requeue()"
            )
            survivor = start_worker(
                tmp_path, name="survivor", database_url=database_url, mode="ok", **QUEUE_ENV
            )
            await listening(database, 2)
            doomed.kill_hard()
            # The first is retried whatever happens to the second.
            done = await wait_for(http, auth, first, finished, timeout_s=STALL_S + 20)
            await eventually(
                lambda: _log_has(survivor, f"recovery_failed job_id={second}"),
                what="the second's recovery failed",
            )
            # The second's queue job was not retried without its row: still taken by the
            # lost worker, as its row says, for the next sweep to try again.
            stuck = await row(database, second)
            stuck_queue_status = await queue_status(database, stuck.queue_job_id)
            await database.execute("DROP TRIGGER refuse_requeue ON jobs")
            again = await wait_for(http, auth, second, finished, timeout_s=STALL_S + 20)
            retried = await row(database, second)
        finally:
            stop_all(doomed, *([survivor] if survivor else []))
    assert done["status"] == "succeeded"
    assert (stuck.status, stuck.lease_owner, stuck_queue_status) == (
        JobStatus.RUNNING,
        "doomed",
        "doing",
    )
    assert again["status"] == "succeeded"
    assert (retried.attempts, retried.lease_owner) == (2, "survivor")


async def _log_has(worker: WorkerProcess, text: str) -> bool:
    return text in worker.log


@on_postgresql
async def test_a_worker_given_up_for_dead_kills_its_engine_and_changes_nothing_when_it_wakes(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with api(settings, database_url) as (client, database):
        http, auth = client
        frozen = start_worker(
            tmp_path, name="frozen", database_url=database_url, mode="hang", **QUEUE_ENV
        )
        survivor = None
        try:
            job_id = await submit(client, await new_episode(http, auth, tmp_path))
            group = await engine_group(database, job_id)
            lost = (await row(database, job_id)).queue_job_id
            survivor = start_worker(
                tmp_path, name="survivor", database_url=database_url, mode="ok", **QUEUE_ENV
            )
            await listening(database, 2)
            # Frozen, not dead: its engine runs on, and no parent-death signal comes.
            os.kill(frozen.process.pid, signal.SIGSTOP)
            done = await wait_for(http, auth, job_id, finished, timeout_s=STALL_S + 20)
            taken = await row(database, job_id)
            os.kill(frozen.process.pid, signal.SIGCONT)
            alive = still_running(group, timeout_s=20)
            await eventually(lambda: _log_has(frozen, "event=queue_worker.given_up"), what="gone")
            # It joins again as a new worker, and the job stays as the survivor ended it.
            await listening(database, 2)
            after = await row(database, job_id)
            lost_status = await queue_status(database, lost)
            taken_status = await queue_status(database, taken.queue_job_id)
        finally:
            stop_all(frozen, *([survivor] if survivor else []))
    assert done["status"] == "succeeded"
    assert alive == []
    assert (taken.attempts, taken.lease_owner) == (2, "survivor")
    assert after == taken
    assert (lost_status, taken_status) == ("failed", "succeeded")


@on_postgresql
async def test_a_stale_attempts_audio_is_refused_and_its_upload_removed(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with api(settings, database_url) as (client, database):
        http, auth = client
        episode_id = await new_episode(http, auth, tmp_path)
        job_id = await submit(client, episode_id)
        jobs = JobStore(database)
        stale = await jobs.start(job_id, worker="given-up")
        assert stale is not None
        # Given up for dead: the job is put back and started elsewhere.
        assert await jobs.requeue_or_fail(job_id, max_attempts=3) is JobStatus.QUEUED
        current = await jobs.start(job_id, worker="survivor")
        assert current is not None
        files = FileStore(settings.media_root)
        audio = EpisodeAudioFiles(EpisodeStore(database), files, LocalObjects(files.root))

        async def publish(attempt: Job, name: str) -> object:
            rendered = tmp_path / f"rendered-{name}"
            rendered.write_bytes(b"ID3 " + name.encode())
            return await audio.publish(
                episode_id,
                rendered,
                audio_name=name,
                duration_s=1.0,
                integrated_lufs=None,
                true_peak_db=None,
                attempt=attempt,
            )

        ours = await publish(current, "current.mp3")
        refused = await publish(stale, "stale.mp3")
        episode = await EpisodeStore(database).get(episode_id)
    assert ours is not None and refused is None
    assert episode is not None and episode.audio_name == "current.mp3"
    assert files.episode_path("current.mp3").read_bytes() == b"ID3 current.mp3"
    assert not files.episode_path("stale.mp3").exists()


@on_postgresql
async def test_a_cancel_whose_queue_abort_never_came_reaches_the_engine_at_the_next_beat(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with api(settings, database_url) as (client, database):
        http, auth = client
        episode_id = await new_episode(http, auth, tmp_path)
        owner_id = await database.fetch_val(
            "SELECT owner_id FROM episodes WHERE id = :id", {"id": episode_id}
        )
        jobs = JobStore(database)
        # A row whose hand-over wrote no queue job id (it failed after the defer).
        queued = await jobs.enqueue(owner_id=owner_id, episode_id=episode_id)
        app = queue_app(database_url, max_connections=2)
        async with app.open_async():
            carrier = await app.configure_task(
                TASK_NAME, queue=QUEUE_NAME, lock=episode_id, queueing_lock=episode_id
            ).defer_async(job_id=queued.id)
        worker = start_worker(
            tmp_path, name="w1", database_url=database_url, mode="child-then-hang", **QUEUE_ENV
        )
        try:
            await wait_for(http, auth, queued.id, lambda job: job["phase"] == "render")
            started = await row(database, queued.id)
            group = await engine_group(database, queued.id)
            # The owner's cancel, committed; procrastinate's abort never sent.
            await jobs.request_cancel(queued.id)
            alive = still_running(group, timeout_s=10)
            done = await wait_for(http, auth, queued.id, finished)
            aborted = await eventually(
                lambda: _status_is(database, carrier, "aborted"), what="aborted"
            )
        finally:
            stop_all(worker)
    assert started.queue_job_id == carrier  # written by the worker that started it
    assert alive == []
    assert done["status"] == "cancelled"
    assert aborted  # the queue's job ends as a cancel through procrastinate would
    assert "event=queue_worker.cancel_requested" in worker.log


class _RacedScratch(Scratch):
    """Between a fetch's failed link and its look at the name, the cached file there is
    evicted, and another process places (and pins) its own copy of the object."""

    def __init__(self, root: Path, *, theirs: Path) -> None:
        super().__init__(root, objects=LocalObjects(root / "store"), cache_bytes=10_000)
        self.theirs = theirs
        self.their_pin: int | None = None

    def _pin(self, path: Path) -> int | None:
        if self.their_pin is None:
            path.unlink()  # evicted
            self.their_pin = os.open(self.theirs, os.O_RDONLY)
            fcntl.flock(self.their_pin, fcntl.LOCK_SH)
            os.link(self.theirs, path)  # placed by the other process, pinned
            return None  # what our look found: nothing
        return super()._pin(path)


def test_a_fetch_that_finds_its_cache_name_evicted_never_replaces_a_file_placed_since(
    tmp_path: Path,
) -> None:
    theirs = tmp_path / "theirs"
    theirs.write_bytes(b"the same object")
    scratch = _RacedScratch(tmp_path / "scratch", theirs=theirs)
    path = tmp_path / "cached"
    path.write_bytes(b"the same object")  # an earlier copy, about to be evicted
    staged = tmp_path / "staged"
    staged.write_bytes(b"the same object")
    pin = os.open(staged, os.O_RDONLY)
    kept = scratch._place(staged, path, pin)
    try:
        assert os.stat(path).st_ino == os.stat(theirs).st_ino  # theirs keeps the name
        assert os.fstat(kept).st_ino == os.stat(theirs).st_ino  # and we read theirs
    finally:
        os.close(kept)
        if scratch.their_pin is not None:
            os.close(scratch.their_pin)
