"""The boot sweep: before a worker claims anything, it clears what a crashed run left.

1. Every recorded engine on this host whose worker is gone: if the process with that
   pid is still the very one recorded (same boot, start time and command line), its
   whole group is killed. A pid that now belongs to something else is never touched.
2. Every podplus engine whose parent is gone (a child that escaped its record, e.g. a
   crash between spawn and the insert) is killed the same way.
3. Every running job whose worker is gone, or whose lease lapsed, is re-queued while it
   has attempts left, and failed as ``FailureCause.INTERRUPTED`` otherwise.
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

import psutil

from podplus.jobs.identity import WorkerIdentity, process_matches, worker_alive
from podplus.storage.jobs import JobStatus, JobStore
from podplus.storage.processes import ProcessRecord, ProcessStore

logger = logging.getLogger(__name__)

ENGINE_MODULE = "podplus.engine"


@dataclass(frozen=True)
class SweepResult:
    killed: int
    requeued: int
    failed: int


def should_kill(record: ProcessRecord, identity: WorkerIdentity) -> bool:
    """Whether a recorded engine is a leftover we may kill: ours to judge, and still itself."""
    if record.host != identity.host or record.boot_id != identity.boot_id:
        return False
    if record.worker_id != identity.worker_id and worker_alive(record.worker_id):
        return False  # another live worker on this host still owns it
    return process_matches(record.pid, started_at=record.started_at, cmdline=record.cmdline)


def is_orphan_engine(process: psutil.Process) -> bool:
    """A podplus engine whose parent died (it was re-parented to init or a newer reaper)."""
    try:
        cmdline = process.cmdline()
        if ENGINE_MODULE not in " ".join(cmdline[:4]) and not any(
            part.endswith("podplus-engine") for part in cmdline[:2]
        ):
            return False
        parent = process.parent()
        if parent is None or parent.pid in (0, 1):
            return True
        # A parent younger than its child can only be an adoptive one.
        return parent.create_time() > process.create_time()
    except psutil.Error:
        return False


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
        if should_kill(record, identity) and await asyncio.to_thread(
            kill_group_and_wait, record.pid, grace_s=grace_s
        ):
            killed += 1
            logger.info(
                "event=supervisor.killed_leftover pid=%s job_id=%s", record.pid, record.job_id
            )
        await processes.ended(record.id)

    orphans = await asyncio.to_thread(
        lambda: [p.pid for p in psutil.process_iter() if is_orphan_engine(p)]
    )
    for pid in orphans:
        if await asyncio.to_thread(kill_group_and_wait, pid, grace_s=grace_s):
            killed += 1
            logger.info("event=supervisor.killed_orphan pid=%s", pid)

    requeued = failed = 0
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
        status = await jobs.requeue_or_fail(job.id, max_attempts=max_attempts)
        if status is JobStatus.QUEUED:
            requeued += 1
        else:
            failed += 1
    logger.info(
        "event=supervisor.boot_sweep killed=%s requeued=%s failed=%s", killed, requeued, failed
    )
    return SweepResult(killed=killed, requeued=requeued, failed=failed)
