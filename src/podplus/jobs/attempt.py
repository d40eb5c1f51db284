"""One attempt at a job, whichever carrier brought it: run the assembly, record the end.

The embedded ``Runner`` (SQLite, or jobs inside ``podplus serve``) and the procrastinate
task (``podplus.jobs.queue_worker``) both hand a job they have started to ``Attempts.run``:
the assembly with its dependencies, the engine under the supervisor with the wall-clock
limit, progress written to the job row at a bounded rate, and the outcome recorded.
There is one job model; only the way a job reaches a worker differs.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from podplus.jobs.assembly import AssemblyStores, JobOutcome, RunEngine, assemble_episode
from podplus.jobs.supervisor import EngineOutcome, Supervisor
from podplus.metrics import Metrics
from podplus.settings import Settings
from podplus.storage.jobs import FailureCause, Job, JobStatus, JobStore

logger = logging.getLogger(__name__)


class Attempts:
    """Runs attempts and records how they end, in the job row."""

    def __init__(
        self,
        *,
        settings: Settings,
        jobs: JobStore,
        assembly: AssemblyStores,
        supervisor: Supervisor,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._jobs = jobs
        self._assembly = assembly
        self._supervisor = supervisor
        self._metrics = metrics

    async def run(self, job: Job) -> JobStatus:
        """Run one attempt at ``job`` (already marked running) and record its end; return
        the job's status now. A shutdown's end (``JobOutcome`` queued) puts it back in the
        queue without counting the attempt."""
        started = time.monotonic()
        status = await self.record(job, await self.attempt(job))
        logger.info(
            "event=tasks.assemble.finished episode_id=%s job_id=%s status=%s seconds=%.2f",
            job.episode_id,
            job.id,
            status.value,
            time.monotonic() - started,
        )
        return status

    async def attempt(self, job: Job) -> JobOutcome:
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
        progress = ProgressWriter(self._jobs, job.id, self._settings.progress_write_interval_s)

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

    async def record(self, job: Job, outcome: JobOutcome) -> JobStatus:
        """Write how the attempt ended to the job row; return the job's status now."""
        if outcome.status is JobStatus.QUEUED:
            return await self.hand_back(job)
        if outcome.status is JobStatus.CANCELLED:
            await self._jobs.mark_cancelled(job.id, attempt=job)
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
            await self._jobs.fail(
                job.id, cause=cause, error=outcome.error or cause.value, attempt=job
            )
            self._metrics.failures.labels(cause).inc()
            return JobStatus.FAILED
        await self._jobs.succeed(job.id, attempt=job)
        return JobStatus.SUCCEEDED

    async def hand_back(self, job: Job) -> JobStatus:
        """Stopped by our own shutdown: not the job's fault, so the attempt doesn't count.
        Only while the row is still this attempt: a worker given up for dead hands back
        nothing that another has taken since."""
        status = await self._jobs.requeue_or_fail(
            job.id,
            max_attempts=self._settings.assembly_max_attempts,
            count_attempt=False,
            attempt=job,
        )
        if status is JobStatus.FAILED:
            self._metrics.failures.labels(FailureCause.INTERRUPTED).inc()
        return status

    async def cancel(self, job_id: str) -> None:
        """Kill the engine group of ``job_id``'s attempt here (or keep it from starting);
        the attempt then ends as cancelled, recorded against that attempt only."""
        await self._supervisor.cancel(job_id)

    async def recover(self, job: Job) -> JobStatus:
        """A job whose worker died: back to the queue, counting the attempt it was on, or
        failed as ``interrupted`` once it has used them all (cancelled if asked to be)."""
        status = await self._jobs.requeue_or_fail(
            job.id, max_attempts=self._settings.assembly_max_attempts, attempt=job
        )
        if status is JobStatus.FAILED:
            self._metrics.failures.labels(FailureCause.INTERRUPTED).inc()
        logger.warning(
            "event=tasks.assemble.recovered episode_id=%s job_id=%s worker=%s status=%s",
            job.episode_id,
            job.id,
            job.lease_owner,
            status.value,
        )
        return status


class ProgressWriter:
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
