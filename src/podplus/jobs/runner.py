"""The runner: claims queued jobs up to the concurrency limit and sees each one through.

It lives inside the API process by default (``podplus serve``) or alone (``podplus
worker``); either way it only talks to the job table, so several can share one database.
It schedules and nothing else: claiming, leases, the concurrency limit, cancel and stop.
What an attempt does, and how its end is recorded, is ``podplus.jobs.attempt``, shared
with the procrastinate carrier that replaces this runner on PostgreSQL
(``podplus.jobs.queue_worker``). This runner is the carrier of the embedded mode (SQLite).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from podplus.jobs.assembly import AssemblyStores
from podplus.jobs.attempt import Attempts
from podplus.jobs.identity import WorkerIdentity, worker_alive
from podplus.jobs.supervisor import Supervisor
from podplus.jobs.sweep import SweepResult, boot_sweep
from podplus.metrics import Metrics
from podplus.settings import Settings
from podplus.storage.jobs import FailureCause, Job, JobStore
from podplus.storage.processes import ProcessStore

logger = logging.getLogger(__name__)


async def sweep_at_boot(
    *,
    settings: Settings,
    identity: WorkerIdentity,
    processes: ProcessStore,
    jobs: JobStore,
    assembly: AssemblyStores,
    metrics: Metrics,
) -> SweepResult:
    """The supervisor's per-host boot sweep (``podplus.jobs.sweep``), counted in the
    metrics: what every worker runs before it takes a job, whichever its carrier."""
    result = await boot_sweep(
        identity=identity,
        processes=processes,
        jobs=jobs,
        scratch=assembly.scratch,
        max_attempts=settings.assembly_max_attempts,
        grace_s=settings.shutdown_grace_s,
    )
    metrics.sweep_kills.inc(result.killed)
    metrics.failures.labels(FailureCause.INTERRUPTED).inc(result.failed)
    return result


class Runner:
    def __init__(
        self,
        *,
        settings: Settings,
        jobs: JobStore,
        processes: ProcessStore,
        assembly: AssemblyStores,
        supervisor: Supervisor,
        identity: WorkerIdentity,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._jobs = jobs
        self._processes = processes
        self._assembly = assembly
        self._supervisor = supervisor
        self._identity = identity
        self._attempts = Attempts(
            settings=settings, jobs=jobs, assembly=assembly, supervisor=supervisor, metrics=metrics
        )
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._active: dict[str, asyncio.Task[None]] = {}
        self._background: list[asyncio.Task[None]] = []
        self._cancels: set[asyncio.Task[bool]] = set()
        self.last_sweep: SweepResult | None = None

    @property
    def active_job_ids(self) -> list[str]:
        return list(self._active)

    async def start(self) -> None:
        self.last_sweep = await sweep_at_boot(
            settings=self._settings,
            identity=self._identity,
            processes=self._processes,
            jobs=self._jobs,
            assembly=self._assembly,
            metrics=self._metrics,
        )
        self._background = [
            asyncio.create_task(self._claim_loop(), name="runner.claim"),
            asyncio.create_task(self._lease_loop(), name="runner.lease"),
        ]

    def wake(self) -> None:
        """A job was queued or finished here: look at the queue now, not at the next poll."""
        self._wake.set()

    def cancel(self, job_id: str) -> bool:
        """Start killing the job's engine if this runner holds it; True if it does.

        The kill (TERM, grace, KILL) runs as its own task so the caller answers at once.
        """
        if job_id not in self._active:
            return False
        task = asyncio.create_task(self._supervisor.cancel(job_id), name=f"cancel.{job_id}")
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)
        return True

    async def stop(self) -> None:
        """Stop claiming, terminate the engines, and re-queue their jobs for the next start."""
        # The loops are told, not cancelled: cancelling one mid-query would strand its
        # database connection.
        self._stopping.set()
        self._wake.set()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._supervisor.shutdown()
        await asyncio.gather(*self._active.values(), return_exceptions=True)

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            while len(self._active) < self._settings.max_concurrent_assemblies:
                job = await self._jobs.claim(
                    worker_id=self._identity.worker_id,
                    lease_s=self._settings.job_lease_s,
                    max_attempts=self._settings.assembly_max_attempts,
                )
                if job is None:
                    break
                self._active[job.id] = asyncio.create_task(self._run(job), name=f"job.{job.id}")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.job_poll_interval_s)

    async def _lease_loop(self) -> None:
        interval_s = self._settings.job_lease_s / 3
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval_s)
                return
            try:
                to_cancel = await self._jobs.renew(
                    self.active_job_ids, lease_s=self._settings.job_lease_s
                )
                for job_id in to_cancel:
                    await self._supervisor.cancel(job_id)
            except Exception:
                logger.exception("event=runner.lease_renewal_failed")
            try:
                await self._recover_lapsed()
            except Exception:
                logger.exception("event=runner.recovery_failed")

    async def _run(self, job: Job) -> None:
        try:
            await self._attempts.run(job)
        except Exception:
            # The row stays running with a lease nobody renews: a live runner's recovery
            # (``_recover_lapsed``) or the next boot sweep takes it.
            logger.exception("event=tasks.assemble.record_failed job_id=%s", job.id)
        finally:
            self._active.pop(job.id, None)
            self._wake.set()

    async def _recover_lapsed(self) -> int:
        """Re-queue (or fail, past the attempt cap) the running jobs whose lease lapsed and
        whose runner is gone; return how many.

        A runner renews its leases every third of ``job_lease_s``, so a lease lapses only
        when its runner stopped: killed, or frozen. On this host "gone" is checked as well
        (the pid and start time in the lease); a runner on another host that let its lease
        lapse is gone as far as this table is concerned. The conditional UPDATE in
        ``requeue_or_fail`` lets one of several live runners win each job.
        """
        recovered = 0
        for job in await self._jobs.lapsed(now=self._clock()):
            if job.id in self._active:
                continue
            owner = job.lease_owner or ""
            parsed = WorkerIdentity.parse(owner)
            if parsed is not None and parsed[0] == self._identity.host and worker_alive(owner):
                continue  # alive here, only late: it will renew
            await self._attempts.recover(job)
            recovered += 1
        if recovered:
            self._wake.set()
        return recovered
