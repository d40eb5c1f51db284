"""The supervisor starts, records, watches and always reaps engine processes."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import psutil
import pytest
from databases import Database

from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.supervisor import Supervisor
from podplus.storage.jobs import FailureCause
from podplus.storage.processes import ProcessStore
from podplus.storage.schema import processes
from tests.jobs.conftest import add_job, stand_in_command


def no_zombies() -> bool:
    return all(child.status() != psutil.STATUS_ZOMBIE for child in psutil.Process().children())


def group_alive(pgid: int, *, within_s: float = 2.0) -> bool:
    """Whether any process of the group is still there after ``within_s`` (a SIGKILL is
    delivered, and the orphan reaped by init, a moment after it is sent)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not any(_in_group(p.pid, pgid) for p in psutil.process_iter()):
            return False
        time.sleep(0.05)
    return True


def _in_group(pid: int, pgid: int) -> bool:
    """Whether ``pid`` is a live member of group ``pgid``. A zombie is dead: it waits only
    for its parent (init, for an orphan) to reap it, which a busy machine does late."""
    try:
        return os.getpgid(pid) == pgid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.NoSuchProcess):
        return False


@pytest.fixture
async def supervisor(database: Database) -> Supervisor:
    for job_id in ("job1", "niced", "j0", "j1"):
        await add_job(database, job_id)
    return Supervisor(
        store=ProcessStore(database), identity=WorkerIdentity.current(), nice=10, kill_grace_s=0.5
    )


async def run(
    supervisor: Supervisor,
    mode: str,
    *,
    timeout_s: float = 30,
    output: str = "/dev/null",
    **kw: Any,
):  # type: ignore[no-untyped-def]
    events: list[dict[str, Any]] = []
    pids: list[int] = []

    async def on_event(event: dict[str, Any]) -> None:
        events.append(event)

    async def on_start(pid: int) -> None:
        pids.append(pid)

    outcome = await supervisor.run(
        job_id=kw.get("job_id", "job1"),
        argv=[*stand_in_command(mode), "assemble", "m.json", "-o", output, "--json"],
        timeout_s=timeout_s,
        on_event=on_event,
        on_start=on_start,
    )
    return outcome, events, pids


async def test_a_clean_run_reports_events_and_the_done_line(supervisor, database, tmp_path):  # type: ignore[no-untyped-def]
    outcome, events, pids = await run(supervisor, "ok", output=str(tmp_path / "out.mp3"))
    assert outcome.succeeded and outcome.cause is None
    assert outcome.done is not None and outcome.done["integrated_lufs"] == -16.0
    assert [e["event"] for e in events] == ["progress"] * 5 + ["done"]
    record = await database.fetch_one(processes.select())
    assert record is not None
    assert record["pid"] == pids[0]
    assert record["ended_at"] is not None
    assert record["boot_id"] == WorkerIdentity.current().boot_id
    assert no_zombies()


async def test_the_engine_runs_idle_in_its_own_process_group(supervisor, tmp_path):  # type: ignore[no-untyped-def]
    seen: dict[str, int] = {}

    async def on_start(pid: int) -> None:
        await asyncio.sleep(0.3)  # let setpriv and nice exec into the engine
        process = psutil.Process(pid)
        seen.update(
            nice=process.nice(),
            sid=os.getsid(pid),
            pgid=os.getpgid(pid),
            policy=os.sched_getscheduler(pid),
        )
        await supervisor.cancel("niced")

    async def on_event(event: dict[str, Any]) -> None:
        pass

    await supervisor.run(
        job_id="niced",
        argv=[*stand_in_command("hang"), "assemble"],
        timeout_s=30,
        on_event=on_event,
        on_start=on_start,
    )
    assert seen["nice"] == 10
    assert seen["policy"] == os.SCHED_IDLE
    assert seen["pgid"] != os.getpgid(0)
    # Same session as the server: a new one would be a CPU group of its own (autogroup).
    assert seen["sid"] == os.getsid(0)


async def test_a_hang_is_killed_at_the_timeout_with_its_whole_group(supervisor):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    outcome, events, pids = await run(supervisor, "child-then-hang", timeout_s=1.5)
    assert outcome.timed_out
    assert (outcome.cause, outcome.error) == (FailureCause.TIMEOUT, "timeout")
    assert time.monotonic() - started < 5
    assert not group_alive(pids[0])
    assert no_zombies()


async def test_a_stopped_engine_is_still_killed_at_the_timeout(supervisor):  # type: ignore[no-untyped-def]
    async def stop_it() -> None:
        while not supervisor.children:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        os.killpg(supervisor.children[0].pid, 19)  # SIGSTOP the whole group

    stopper = asyncio.create_task(stop_it())
    outcome, _, pids = await run(supervisor, "child-then-hang", timeout_s=1.5)
    await stopper
    assert outcome.timed_out
    assert not group_alive(pids[0])
    assert no_zombies()


async def test_megabytes_of_stderr_do_not_deadlock(supervisor, tmp_path):  # type: ignore[no-untyped-def]
    outcome, _, _ = await run(supervisor, "stderr-flood", timeout_s=20, output=str(tmp_path / "o"))
    assert outcome.succeeded
    assert len(outcome.stderr_tail) <= 16 * 1024 + 65536


async def test_a_failing_engine_hands_back_its_message(supervisor):  # type: ignore[no-untyped-def]
    outcome, _, _ = await run(supervisor, "fail")
    assert not outcome.succeeded
    assert outcome.returncode == 3
    assert outcome.cause is FailureCause.ENGINE_ERROR
    assert "Invalid data found" in outcome.error


async def test_a_crashed_engine_is_reported_by_signal(supervisor):  # type: ignore[no-untyped-def]
    outcome, _, _ = await run(supervisor, "crash")
    assert outcome.cause is FailureCause.CRASHED
    assert outcome.error == "engine crashed (killed by SIGSEGV)"
    assert no_zombies()


async def test_cancel_right_after_spawn_leaves_no_orphan(supervisor):  # type: ignore[no-untyped-def]
    async def cancel_at_once(pid: int) -> None:
        await supervisor.cancel("job1")

    async def on_event(event: dict[str, Any]) -> None:
        pass

    outcome = await supervisor.run(
        job_id="job1",
        argv=[*stand_in_command("child-then-hang"), "assemble"],
        timeout_s=30,
        on_event=on_event,
        on_start=cancel_at_once,
    )
    assert outcome.cancelled and outcome.cause is None  # a cancel is not a failure
    await asyncio.sleep(0.2)
    leftovers = [
        p
        for p in psutil.Process().children(recursive=True)
        if "stand_in_engine.py" in " ".join(p.cmdline())
    ]
    assert leftovers == []
    assert no_zombies()


async def test_shutdown_terminates_every_child(supervisor):  # type: ignore[no-untyped-def]
    runs = [
        asyncio.create_task(run(supervisor, "child-then-hang", job_id=f"j{i}")) for i in range(2)
    ]
    while len(supervisor.children) < 2:
        await asyncio.sleep(0.05)
    pgids = [child.pid for child in supervisor.children]
    await supervisor.shutdown()
    outcomes = [result[0] for result in await asyncio.gather(*runs)]
    assert all(outcome.shut_down for outcome in outcomes)
    assert {outcome.cause for outcome in outcomes} == {FailureCause.INTERRUPTED}
    assert not any(group_alive(pgid) for pgid in pgids)
    assert no_zombies()


async def test_a_cancel_that_arrives_before_the_spawn_is_not_lost(supervisor):  # type: ignore[no-untyped-def]
    assert await supervisor.cancel("job1") is False  # nothing to kill yet
    started = time.monotonic()
    outcome, _, pids = await run(supervisor, "hang")
    assert outcome.cancelled and pids == []
    assert time.monotonic() - started < 1


async def test_nothing_starts_once_shutdown_has_begun(supervisor):  # type: ignore[no-untyped-def]
    await supervisor.shutdown()
    outcome, _, pids = await run(supervisor, "hang")
    assert outcome.shut_down and pids == []
