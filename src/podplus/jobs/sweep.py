"""The boot sweep: before a worker claims anything, it clears what a crashed run left.

1. Every engine recorded in this deployment's process table, on this host, whose worker
   is gone: if the process with that pid is still the very one recorded (same boot,
   start time and command line, and that command line works in this deployment's work
   folder for the job), its whole group is killed. Nothing else is ever killed: not a
   process that now has a recorded pid, and not an engine that merely looks like one
   (another deployment's, a ``podplus worker``'s, one run by hand), whoever its parent.
2. Every running job whose worker is gone, or whose lease lapsed, loses its work folder
   in the scratch folder (a killed engine's float intermediate is hundreds of MB an hour),
   then is re-queued while it has attempts left, and failed as ``FailureCause.INTERRUPTED``
   otherwise. The folder goes first: once the row is queued, another runner may claim it
   and start over.
3. The work folder of every job that is over, or no longer exists, is removed. A queued
   job's folder is left to the run that claims it, which starts with a clean one:
   removing it here could race with another runner's claim.

An engine that escaped its record (the server killed between the fork and the insert)
is not hunted by name: the parent-death signal, set before the engine runs a line of its
own, takes it down with the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from podplus.jobs.identity import WorkerIdentity, process_matches, worker_alive
from podplus.jobs.scratch import Scratch
from podplus.storage.jobs import JobStatus, JobStore
from podplus.storage.processes import ProcessRecord, ProcessStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    killed: int
    requeued: int
    failed: int
    work_removed: int = 0


def should_kill(record: ProcessRecord, identity: WorkerIdentity, *, work_dir: Path) -> bool:
    """Whether a recorded engine is a leftover we may kill: ours to judge, and still itself.

    ``work_dir`` is the job's work folder in this deployment: a record whose command line
    works anywhere else was written by another deployment (a database copied over).
    """
    if record.host != identity.host or record.boot_id != identity.boot_id:
        return False
    if record.worker_id != identity.worker_id and worker_alive(record.worker_id):
        return False  # another live worker on this host still owns it
    if not works_in(record.cmdline, work_dir):
        return False
    return process_matches(record.pid, started_at=record.started_at, cmdline=record.cmdline)


def works_in(cmdline: tuple[str, ...], folder: Path) -> bool:
    """Whether a command line names a file inside ``folder`` (its manifest, its output)."""
    prefix = f"{folder}{os.sep}"
    return any(arg.startswith(prefix) for arg in cmdline)


def kill_group_and_wait(pid: int, *, grace_s: float) -> bool:
    """TERM the process group led by ``pid``, KILL what's left after ``grace_s``."""
    try:
        leader = psutil.Process(pid)
        members = [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return False
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return False
    target = pgid if pgid == pid else None
    for sig in (signal.SIGTERM, signal.SIGCONT):
        if target is not None:
            os.killpg(target, sig)
        else:
            for member in members:
                _send(member, sig)
    _, alive = psutil.wait_procs(members, timeout=grace_s)
    for member in alive:
        _send(member, signal.SIGKILL)
    if target is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(target, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=grace_s)
    return True


def _send(process: psutil.Process, sig: int) -> None:
    with contextlib.suppress(psutil.Error):
        process.send_signal(sig)


async def boot_sweep(
    *,
    identity: WorkerIdentity,
    processes: ProcessStore,
    jobs: JobStore,
    scratch: Scratch,
    max_attempts: int,
    grace_s: float,
    clock: Callable[[], float] = time.time,
) -> SweepResult:
    """Clear what dead runs left (see the module's docstring); ``clock`` tells when a lease
    has lapsed."""
    killed = 0
    for record in await processes.live_on_host(identity.host):
        if record.worker_id != identity.worker_id and worker_alive(record.worker_id):
            continue
        work_dir = scratch.work_dir(record.job_id)
        if should_kill(record, identity, work_dir=work_dir) and await asyncio.to_thread(
            kill_group_and_wait, record.pid, grace_s=grace_s
        ):
            killed += 1
            logger.info(
                "event=supervisor.killed_leftover pid=%s job_id=%s", record.pid, record.job_id
            )
        await processes.ended(record.id)

    requeued = failed = work_removed = 0
    now = clock()
    for job in await jobs.running():
        owner = job.lease_owner or ""
        parsed = WorkerIdentity.parse(owner)
        same_host_and_dead = (
            parsed is not None and parsed[0] == identity.host and not worker_alive(owner)
        )
        lapsed = job.lease_expires_at is not None and job.lease_expires_at < now
        if not (same_host_and_dead or lapsed):
            continue
        if await asyncio.to_thread(scratch.remove_work_dir, job.id):
            work_removed += 1
        status = await jobs.requeue_or_fail(job.id, max_attempts=max_attempts)
        if status is JobStatus.QUEUED:
            requeued += 1
        else:
            failed += 1

    work_removed += await _remove_finished_work(jobs, scratch)
    logger.info(
        "event=supervisor.boot_sweep killed=%s requeued=%s failed=%s work_removed=%s",
        killed,
        requeued,
        failed,
        work_removed,
    )
    return SweepResult(killed=killed, requeued=requeued, failed=failed, work_removed=work_removed)


async def _remove_finished_work(jobs: JobStore, scratch: Scratch) -> int:
    """Remove the work folders of jobs that are over, or gone; return how many."""
    folders = await asyncio.to_thread(scratch.work_job_ids)
    if not folders:
        return 0
    statuses = await jobs.statuses(folders)
    removed = 0
    for job_id in folders:
        status = statuses.get(job_id)
        if status is not None and status.is_active:
            continue
        if await asyncio.to_thread(scratch.remove_work_dir, job_id):
            removed += 1
    return removed
