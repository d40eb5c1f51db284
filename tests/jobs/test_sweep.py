"""The boot sweep kills what a dead run left, and never a process that merely reuses a pid."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import psutil
import pytest
from databases import Database

from podplus.ids import new_id
from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.sweep import boot_sweep
from podplus.storage.jobs import FailureCause, JobStatus, JobStore
from podplus.storage.processes import ProcessStore
from podplus.storage.schema import episodes
from tests.jobs.conftest import add_job, stand_in_command

# A worker that can't be alive: pid 1 didn't start at the epoch.
DEAD_WORKER = f"{WorkerIdentity.current().host}:1:1.00"


@pytest.fixture
async def job_store(database: Database) -> JobStore:
    await add_job(database, "job", status="failed")
    return JobStore(database)


async def running_job(database: Database, store: JobStore, *, attempts: int) -> str:
    episode_id = new_id()
    await database.execute(
        episodes.insert().values(
            id=episode_id, owner_id="u1", title="t", spec="{}", created_at=0, updated_at=0
        )
    )
    job = await store.enqueue(owner_id="u1", episode_id=episode_id)
    await database.execute(
        f"UPDATE jobs SET status='running', attempts={attempts}, lease_owner='{DEAD_WORKER}#x', "
        f"lease_expires_at={time.time() + 60} WHERE id='{job.id}'"
    )
    return job.id


@pytest.fixture
def spawn() -> Iterator[Callable[[list[str]], psutil.Process]]:
    """Start processes in sessions of their own; reap whatever is left at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str]) -> psutil.Process:
        started.append(subprocess.Popen(argv, start_new_session=True))
        time.sleep(0.2)
        return psutil.Process(started[-1].pid)

    yield start
    for process in started:
        process.kill()
        process.wait()


async def sweep(database: Database, store: JobStore, *, later_s: float = 0.0):  # type: ignore[no-untyped-def]
    return await boot_sweep(
        identity=WorkerIdentity.current(),
        processes=ProcessStore(database),
        jobs=store,
        max_attempts=3,
        grace_s=0.5,
        clock=lambda: time.time() + later_s,
    )


async def record(database: Database, process: psutil.Process, **overrides: object) -> None:
    identity = WorkerIdentity.current()
    values = {
        "job_id": "job",
        "pid": process.pid,
        "started_at": process.create_time(),
        "cmdline": process.cmdline(),
        "host": identity.host,
        "boot_id": identity.boot_id,
        "worker_id": DEAD_WORKER,
        **overrides,
    }
    await ProcessStore(database).add(**values)  # type: ignore[arg-type]


async def test_a_leftover_engine_of_a_dead_worker_is_killed(database, job_store, spawn, caplog):  # type: ignore[no-untyped-def]
    leftover = spawn([*stand_in_command("child-then-hang"), "assemble"])
    await record(database, leftover)
    caplog.set_level("INFO")
    result = await sweep(database, job_store)
    assert result.killed == 1
    assert not leftover.is_running() or leftover.status() == psutil.STATUS_ZOMBIE
    assert "event=supervisor.boot_sweep killed=1" in caplog.text


async def test_a_process_reusing_a_recorded_pid_is_left_alone(database, job_store, spawn):  # type: ignore[no-untyped-def]
    stranger = spawn(["sleep", "30"])
    # Same pid, but the record says it started a minute earlier as an engine.
    await record(
        database,
        stranger,
        started_at=stranger.create_time() - 60,
        cmdline=[sys.executable, "-m", "podplus.engine", "assemble"],
    )
    result = await sweep(database, job_store)
    assert result.killed == 0
    assert stranger.is_running()
    # Same start time but another command line is not ours either.
    await record(database, stranger, cmdline=["python", "-m", "podplus.engine"])
    assert (await sweep(database, job_store)).killed == 0
    assert stranger.is_running()


async def test_a_record_from_another_boot_is_never_acted_on(database, job_store, spawn):  # type: ignore[no-untyped-def]
    stranger = spawn(["sleep", "30"])
    await record(database, stranger, boot_id="an-earlier-boot")
    assert (await sweep(database, job_store)).killed == 0
    assert stranger.is_running()


async def test_an_engine_whose_parent_died_is_killed(database, job_store):  # type: ignore[no-untyped-def]
    # A shell starts an "engine" in the background and exits: the child is re-parented,
    # and no record names it (as after a crash between spawn and the insert).
    engine_like = f"{sys.executable} -c 'import time; time.sleep(30)' podplus.engine assemble"
    shell = subprocess.run(
        ["sh", "-c", f"{engine_like} >/dev/null 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = psutil.Process(int(shell.stdout.strip()))
    assert (await sweep(database, job_store)).killed == 1
    assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE


async def test_an_engine_with_a_live_parent_is_not_an_orphan(database, job_store):  # type: ignore[no-untyped-def]
    # Someone running the engine CLI by hand in a terminal: its parent is alive.
    by_hand = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "podplus.engine", "assemble"]
    )
    try:
        time.sleep(0.2)
        assert (await sweep(database, job_store)).killed == 0
        assert by_hand.poll() is None
    finally:
        by_hand.kill()
        by_hand.wait()


async def test_running_jobs_of_a_dead_worker_are_requeued_until_the_attempt_limit(
    database, job_store
):  # type: ignore[no-untyped-def]
    retry = await running_job(database, job_store, attempts=1)
    exhausted = await running_job(database, job_store, attempts=3)
    result = await sweep(database, job_store)
    assert (result.requeued, result.failed) == (1, 1)
    requeued = await job_store.get(retry)
    assert requeued is not None and requeued.status is JobStatus.QUEUED
    assert requeued.lease_owner is None
    failed = await job_store.get(exhausted)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert (failed.failure_cause, failed.error) == (FailureCause.INTERRUPTED, "interrupted")


async def test_jobs_of_a_live_worker_are_left_running(database, job_store):  # type: ignore[no-untyped-def]
    job_id = await running_job(database, job_store, attempts=1)
    alive = WorkerIdentity.current().worker_id
    await database.execute(f"UPDATE jobs SET lease_owner='{alive}#y' WHERE id='{job_id}'")
    await sweep(database, job_store)
    job = await job_store.get(job_id)
    assert job is not None and job.status is JobStatus.RUNNING


async def test_a_job_whose_lease_lapsed_is_requeued_though_its_worker_lives(database, job_store):  # type: ignore[no-untyped-def]
    # Its runner is alive but stuck (or on another host): the lease is what counts.
    job_id = await running_job(database, job_store, attempts=1)  # lease: a minute from now
    alive = WorkerIdentity.current().worker_id
    await database.execute(f"UPDATE jobs SET lease_owner='{alive}#y' WHERE id='{job_id}'")
    assert (await sweep(database, job_store, later_s=30)).requeued == 0
    assert (await sweep(database, job_store, later_s=61)).requeued == 1
    job = await job_store.get(job_id)
    assert job is not None and job.status is JobStatus.QUEUED
