"""The runner: claims queued jobs up to the concurrency limit and sees each one through.

It lives inside the API process by default (``podplus serve``) or alone (``podplus
worker``); either way it only talks to the job table, so several can share one database.
It schedules and nothing else: claiming, leases, the concurrency limit, cancel and stop.
What an assembly does is ``podplus.jobs.assembly``; the runner records how it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from podplus.jobs.assembly import AssemblyStores, JobOutcome, RunEngine, assemble_episode
from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.supervisor import EngineOutcome, Supervisor
from podplus.jobs.sweep import SweepResult, boot_sweep
from podplus.metrics import Metrics
from podplus.settings import Settings
from podplus.storage.jobs import FailureCause, Job, JobStatus, JobStore
from podplus.storage.processes import ProcessStore

logger = logging.getLogger(__name__)


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
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._jobs = jobs
        self._processes = processes
        self._assembly = assembly
        self._supervisor = supervisor
        self._identity = identity
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
        self.last_sweep = await boot_sweep(
            identity=self._identity,
            processes=self._processes,
            jobs=self._jobs,
            files=self._assembly.files,
            max_attempts=self._settings.assembly_max_attempts,
            grace_s=self._settings.shutdown_grace_s,
        )
        self._metrics.sweep_kills.inc(self.last_sweep.killed)
        self._metrics.failures.labels(FailureCause.INTERRUPTED).inc(self.last_sweep.failed)
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

    async def _run(self, job: Job) -> None:
        started = time.monotonic()
        try:
            status = await self._record(job, await self._attempt(job))
        except Exception:
            # The row stays running with a lease nobody renews: the next boot sweep takes it.
            logger.exception("event=tasks.assemble.record_failed job_id=%s", job.id)
            return
        finally:
            self._active.pop(job.id, None)
            self._wake.set()
        logger.info(
            "event=tasks.assemble.finished episode_id=%s job_id=%s status=%s seconds=%.2f",
            job.episode_id,
            job.id,
            status.value,
            time.monotonic() - started,
        )

    async def _attempt(self, job: Job) -> JobOutcome:
        try:
            return await assemble_episode(
                job,
                stores=self._assembly,
                engine_command=self._settings.engine_command,
                run_engine=self._engine_for(job),
            )
        except Exception as exc:
            # The message may hold anything (a path, a query): the log has it, not the owner.
            logger.exception("event=tasks.assemble.error job_id=%s", job.id)
            return JobOutcome.failed(
                FailureCause.INTERNAL,
                "internal error; the server log has the details",
                detail=repr(exc),
            )

    def _engine_for(self, job: Job) -> RunEngine:
        """Runs ``job``'s engine under the supervisor, with the time limit, writing its
        progress to the job row."""
        progress = _ProgressWriter(self._jobs, job.id, self._settings.progress_write_interval_s)

        async def on_start(pid: int) -> None:
            logger.info(
                "event=tasks.assemble.dispatched episode_id=%s job_id=%s pid=%s attempt=%s",
                job.episode_id,
                job.id,
                pid,
                job.attempts,
            )

        async def run_engine(argv: list[str]) -> EngineOutcome:
            return await self._supervisor.run(
                job_id=job.id,
                argv=argv,
                timeout_s=self._settings.assembly_timeout_s,
                on_event=progress.on_event,
                on_start=on_start,
                extra_info={"episode_id": job.episode_id},
            )

        return run_engine

    async def _record(self, job: Job, outcome: JobOutcome) -> JobStatus:
        """Write how the attempt ended to the job row; return the job's status now."""
        if outcome.status is JobStatus.QUEUED:
            # Stopped by our own shutdown: not the job's fault, so the attempt doesn't count.
            status = await self._jobs.requeue_or_fail(
                job.id, max_attempts=self._settings.assembly_max_attempts, count_attempt=False
            )
            if status is JobStatus.FAILED:
                self._metrics.failures.labels(FailureCause.INTERRUPTED).inc()
            return status
        if outcome.status is JobStatus.CANCELLED:
            await self._jobs.mark_cancelled(job.id)
            return JobStatus.CANCELLED
        if outcome.status is JobStatus.FAILED:
            cause = outcome.cause or FailureCause.INTERNAL
            logger.warning(
                "event=tasks.assemble.failed episode_id=%s job_id=%s cause=%s error=%r detail=%r",
                job.episode_id,
                job.id,
                cause.value,
                outcome.error,
                outcome.detail,
            )
            await self._jobs.fail(job.id, cause=cause, error=outcome.error or cause.value)
            self._metrics.failures.labels(cause).inc()
            return JobStatus.FAILED
        await self._jobs.succeed(job.id)
        return JobStatus.SUCCEEDED


class _ProgressWriter:
    """Writes the engine's progress to the job row at most once per interval (and on phase
    changes), so a chatty engine can't flood the database."""

    def __init__(self, jobs: JobStore, job_id: str, interval_s: float) -> None:
        self._jobs = jobs
        self._job_id = job_id
        self._interval_s = interval_s
        self._last_write = 0.0
        self._last_phase: str | None = None

    async def on_event(self, event: dict[str, Any]) -> None:
        if event.get("event") != "progress":
            return
        phase = str(event.get("phase") or "")
        now = time.monotonic()
        if phase == self._last_phase and now - self._last_write < self._interval_s:
            return
        self._last_write, self._last_phase = now, phase
        fraction = event.get("fraction")
        await self._jobs.report_progress(
            self._job_id,
            fraction=float(fraction) if isinstance(fraction, int | float) else 0.0,
            phase=phase,
        )
