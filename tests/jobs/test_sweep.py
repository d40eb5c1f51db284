"""The boot sweep kills what a dead run of this deployment left, and nothing else: not a
process that merely reuses a pid, and not an engine it has no record of (another
deployment's, a worker's, one run by hand), whoever its parent. It also clears the work
folders of jobs that are not running."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psutil
import pytest
from databases import Database

from podplus.ids import new_id
from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.scratch import Scratch
from podplus.jobs.sweep import SweepResult, boot_sweep
from podplus.storage.database import connect, open_database
from podplus.storage.jobs import FailureCause, JobStatus, JobStore
from podplus.storage.local_objects import LocalObjects
from podplus.storage.migrations import migrate
from podplus.storage.processes import ProcessStore
from podplus.storage.schema import episodes, users
from tests.jobs.conftest import add_job, stand_in_command

# A worker that can't be alive: pid 1 didn't start at the epoch.
DEAD_WORKER = f"{WorkerIdentity.current().host}:1:1.00"
ENGINE = (sys.executable, "-m", "podplus.engine")


@pytest.fixture
async def job_store(database: Database) -> JobStore:
    await add_job(database, "job", status="failed")
    return JobStore(database)


@pytest.fixture
def scratch(tmp_path: Path) -> Scratch:
    return scratch_of(tmp_path)


def scratch_of(root: Path) -> Scratch:
    """A deployment's scratch folder (its work folders), beside its media folder."""
    return Scratch(root / "scratch", objects=LocalObjects(root / "media"), cache_bytes=1 << 20)


async def running_job(
    database: Database, store: JobStore, *, attempts: int, owner: str = DEAD_WORKER
) -> str:
    episode_id = new_id()
    await database.execute(
        episodes.insert().values(
            id=episode_id, owner_id="u1", title="t", spec="{}", created_at=0, updated_at=0
        )
    )
    job = await store.enqueue(owner_id="u1", episode_id=episode_id)
    await database.execute(
        f"UPDATE jobs SET status='running', attempts={attempts}, lease_owner='{owner}#x', "
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


@pytest.fixture
def orphans() -> Iterator[Callable[[list[str]], psutil.Process]]:
    """Start processes whose parent exits at once, so init (or a subreaper) adopts them,
    as an engine's would in a container where the server is process 1's child; kill them
    at the end."""
    started: list[psutil.Process] = []

    def start(argv: list[str]) -> psutil.Process:
        command = " ".join(f"'{arg}'" for arg in argv)
        shell = subprocess.run(
            ["sh", "-c", f"{command} >/dev/null 2>&1 & echo $!"],
            capture_output=True,
            text=True,
            check=True,
            start_new_session=True,
        )
        started.append(psutil.Process(int(shell.stdout.strip())))
        # The shell forks, then the child becomes the program: wait for that.
        until(lambda: started[-1].cmdline() == argv)
        return started[-1]

    yield start
    for process in started:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def waiting_engine(scratch: Scratch, job_id: str) -> list[str]:
    """The real engine as the supervisor starts it, for ``job_id`` of ``scratch``'s deployment.

    Its manifest is a named pipe nobody writes, so it waits (without using the CPU) until
    it is killed.
    """
    work_dir = scratch.work_dir(job_id)
    work_dir.mkdir(parents=True, exist_ok=True)
    manifest = work_dir / "manifest.json"
    if not manifest.exists():
        os.mkfifo(manifest)
    return [*ENGINE, "assemble", str(manifest), "-o", str(work_dir / "episode.mp3"), "--json"]


def until(condition: Callable[[], bool], *, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.02)


def alive(process: psutil.Process) -> bool:
    return process.is_running() and process.status() != psutil.STATUS_ZOMBIE


async def sweep(
    database: Database, store: JobStore, scratch: Scratch, *, later_s: float = 0.0
) -> SweepResult:
    return await boot_sweep(
        identity=WorkerIdentity.current(),
        processes=ProcessStore(database),
        jobs=store,
        scratch=scratch,
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


@pytest.fixture
async def other_deployment(tmp_path: Path) -> AsyncIterator[tuple[Database, Scratch]]:
    """A second podplus on this host: its own database and its own data folder."""
    database = open_database(f"sqlite:///{tmp_path / 'other' / 'podplus.db'}")
    await connect(database)
    await migrate(database)
    await database.execute(
        users.insert().values(id="u1", email="u@x.io", name="", password_hash="-", created_at=0)
    )
    yield database, scratch_of(tmp_path / "other")
    await database.disconnect()


async def test_a_recorded_engine_of_a_dead_run_is_killed(  # type: ignore[no-untyped-def]
    database, job_store, scratch, orphans, caplog
):
    leftover = orphans(waiting_engine(scratch, "job"))
    await record(database, leftover)
    caplog.set_level("INFO")
    result = await sweep(database, job_store, scratch)
    assert result.killed == 1
    assert not alive(leftover)
    assert "event=supervisor.boot_sweep killed=1" in caplog.text


async def test_a_leftover_engine_and_its_children_are_killed(database, job_store, scratch, spawn):  # type: ignore[no-untyped-def]
    work_dir = scratch.work_dir("job")
    work_dir.mkdir(parents=True)
    leftover = spawn(
        [*stand_in_command("child-then-hang"), "assemble", str(work_dir / "manifest.json"),
         "-o", str(work_dir / "episode.mp3")]
    )  # fmt: skip
    until(lambda: len(leftover.children(recursive=True)) == 1)  # its "ffmpeg"
    family = [leftover, *leftover.children(recursive=True)]
    await record(database, leftover)
    assert (await sweep(database, job_store, scratch)).killed == 1
    _, still_alive = psutil.wait_procs(family, timeout=3)
    assert still_alive == []


async def test_an_engine_nobody_recorded_is_left_alone_whoever_its_parent(  # type: ignore[no-untyped-def]
    database, job_store, scratch, orphans
):
    # The real engine at work, adopted by init: a `podplus worker` of another deployment
    # on this host, or the engine run by hand. The old sweep took it for a leftover of
    # ours by its command line alone.
    stranger = orphans(waiting_engine(scratch, "someone-elses"))
    assert psutil.Process(stranger.pid).ppid() != os.getpid()
    result = await sweep(database, job_store, scratch)
    assert result.killed == 0
    assert alive(stranger)


async def test_each_deployment_kills_only_the_engines_in_its_own_table(  # type: ignore[no-untyped-def]
    database, job_store, scratch, other_deployment, orphans
):
    other_database, other_scratch = other_deployment
    await add_job(other_database, "job", status="running")
    theirs = orphans(waiting_engine(other_scratch, "job"))
    await record(other_database, theirs)  # recorded there, by a worker that died
    # Even a copy of their record in our table names their data folder, not ours.
    await record(database, theirs)

    assert (await sweep(database, job_store, scratch)).killed == 0
    assert alive(theirs)
    assert (await sweep(other_database, JobStore(other_database), other_scratch)).killed == 1
    assert not alive(theirs)


async def test_a_process_reusing_a_recorded_pid_is_left_alone(database, job_store, scratch, spawn):  # type: ignore[no-untyped-def]
    stranger = spawn(["sleep", "30"])
    engine_line = [*ENGINE, "assemble", str(scratch.work_dir("job") / "manifest.json")]
    # Same pid, but the record says it started a minute earlier as an engine.
    await record(database, stranger, started_at=stranger.create_time() - 60, cmdline=engine_line)
    result = await sweep(database, job_store, scratch)
    assert result.killed == 0
    assert stranger.is_running()
    # Same start time but another command line is not ours either.
    await record(database, stranger, cmdline=engine_line)
    assert (await sweep(database, job_store, scratch)).killed == 0
    assert stranger.is_running()


async def test_a_record_from_another_boot_is_never_acted_on(database, job_store, scratch, orphans):  # type: ignore[no-untyped-def]
    engine = orphans(waiting_engine(scratch, "job"))
    await record(database, engine, boot_id="an-earlier-boot")
    assert (await sweep(database, job_store, scratch)).killed == 0
    assert alive(engine)


async def test_an_engine_of_another_live_worker_is_left_alone(  # type: ignore[no-untyped-def]
    database, job_store, scratch, orphans, spawn
):
    # A `podplus worker` beside this server, sharing its database: its engines are its own.
    worker = spawn(["sleep", "30"])
    worker_id = f"{WorkerIdentity.current().host}:{worker.pid}:{worker.create_time():.2f}"
    engine = orphans(waiting_engine(scratch, "job"))
    await record(database, engine, worker_id=worker_id)
    assert (await sweep(database, job_store, scratch)).killed == 0
    assert alive(engine)


async def test_running_jobs_of_a_dead_worker_are_requeued_until_the_attempt_limit(
    database, job_store, scratch
):  # type: ignore[no-untyped-def]
    retry = await running_job(database, job_store, attempts=1)
    exhausted = await running_job(database, job_store, attempts=3)
    result = await sweep(database, job_store, scratch)
    assert (result.requeued, result.failed) == (1, 1)
    requeued = await job_store.get(retry)
    assert requeued is not None and requeued.status is JobStatus.QUEUED
    assert requeued.lease_owner is None
    failed = await job_store.get(exhausted)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert (failed.failure_cause, failed.error) == (FailureCause.INTERRUPTED, "interrupted")


async def test_jobs_of_a_live_worker_are_left_running(database, job_store, scratch):  # type: ignore[no-untyped-def]
    job_id = await running_job(database, job_store, attempts=1)
    alive_worker = WorkerIdentity.current().worker_id
    await database.execute(f"UPDATE jobs SET lease_owner='{alive_worker}#y' WHERE id='{job_id}'")
    await sweep(database, job_store, scratch)
    job = await job_store.get(job_id)
    assert job is not None and job.status is JobStatus.RUNNING


async def test_a_job_whose_lease_lapsed_is_requeued_though_its_worker_lives(
    database, job_store, scratch
):  # type: ignore[no-untyped-def]
    # Its runner is alive but stuck (or on another host): the lease is what counts.
    job_id = await running_job(database, job_store, attempts=1)  # lease: a minute from now
    alive_worker = WorkerIdentity.current().worker_id
    await database.execute(f"UPDATE jobs SET lease_owner='{alive_worker}#y' WHERE id='{job_id}'")
    assert (await sweep(database, job_store, scratch, later_s=30)).requeued == 0
    assert (await sweep(database, job_store, scratch, later_s=61)).requeued == 1
    job = await job_store.get(job_id)
    assert job is not None and job.status is JobStatus.QUEUED


def leave_work(scratch: Scratch, job_id: str) -> Path:
    """What a killed engine leaves: its temporary folder, holding the float intermediate."""
    temporary = scratch.work_dir(job_id) / ".podplus-x1y2"
    temporary.mkdir(parents=True)
    (temporary / "mix.f32le").write_bytes(b"\0" * 4096)
    (scratch.work_dir(job_id) / "manifest.json").write_text("{}")
    return scratch.work_dir(job_id)


async def test_the_work_folders_of_jobs_that_are_not_running_are_removed(
    database, job_store, scratch
):  # type: ignore[no-untyped-def]
    requeued = await running_job(database, job_store, attempts=1)
    failed = await running_job(database, job_store, attempts=3)  # failed by this very sweep
    live = await running_job(
        database, job_store, attempts=1, owner=WorkerIdentity.current().worker_id
    )
    queued = await add_job(database, "queued-job", status="queued")
    for job_id in (requeued, failed, live, queued, "job", "a-deleted-job"):
        leave_work(scratch, job_id)

    result = await sweep(database, job_store, scratch)

    assert (result.requeued, result.failed) == (1, 1)
    # Requeued, failed here, over before ("job" failed), or gone: removed.
    assert result.work_removed == 4
    # Still running elsewhere, or waiting for the runner that will start it over: kept.
    assert scratch.work_job_ids() == sorted([live, queued])
