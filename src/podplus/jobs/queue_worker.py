"""The worker side of the PostgreSQL carrier: a procrastinate worker that runs assemblies.

``podplus worker`` (and ``podplus serve`` with ``PODPLUS_RUN_JOBS`` on PostgreSQL) runs
one ``QueueWorker``. It takes no job from our table itself: procrastinate hands it jobs
(``FOR UPDATE SKIP LOCKED`` with the episode as lock), woken by LISTEN/NOTIFY the moment
one is queued. Its task marks our row running and runs the same attempt code as the
embedded runner (``podplus.jobs.attempt``).

Crash recovery across machines
    Every worker writes a heartbeat each ``worker_heartbeat_s``. On the same beat each
    worker looks for jobs whose worker has been silent for ``worker_stall_s`` (killed,
    machine lost, network cut): under a PostgreSQL advisory lock, so one sweep runs at a
    time and a stalled job is retried once, it prunes the silent workers, counts the
    attempt in our row, and puts the job back in the queue (or, past
    ``assembly_max_attempts``, fails our row as ``interrupted`` and finishes the
    procrastinate job). A stalled job so runs elsewhere within about ``worker_stall_s +
    worker_heartbeat_s`` of its worker's last heartbeat, whatever the job's length. The
    lost worker's engine is gone already: the supervisor starts every engine with a
    parent-death signal (``setpriv --pdeathsig KILL``).

    The retry is a new procrastinate job (the stalled one is ended as failed), written
    after our row's change has committed: a worker that was only frozen and comes back
    can end nothing but the job it had, and its late writes to our row and to the
    episode's audio are refused (they apply to its own attempt only). At its next beat it
    sees it was given up (its ``procrastinate_workers`` row is gone), kills its engines
    and joins again as a new worker.

    The same sweep reconciles rows left ``running`` whose procrastinate job is no longer
    running (a database error after the row was started, and procrastinate failed its
    job): each is recovered as a stalled one is.

Drain (for operators)
    ``SIGTERM`` (or ``SIGINT``) to a worker: it stops fetching at once, lets running
    assemblies finish for up to ``shutdown_grace_s``, then hands the rest back: their
    engines are killed, our rows go back to ``queued`` without counting the attempt, and
    procrastinate retries their jobs, which another worker picks up. To add a worker,
    start ``podplus worker`` with the same ``PODPLUS_DATABASE_URL`` on any machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from databases import Database
from procrastinate import App, JobContext, RetryStrategy
from procrastinate.exceptions import JobAborted
from procrastinate.job_context import AbortReason
from procrastinate.jobs import Status
from procrastinate.worker import Worker

from podplus.jobs.attempt import Attempts
from podplus.jobs.queue import QUEUE_NAME, TASK_NAME, JobQueue
from podplus.settings import Settings
from podplus.storage.jobs import Job, JobStatus, JobStore

logger = logging.getLogger(__name__)

# The advisory lock one stall sweep holds at a time ("stalls" in ASCII).
STALL_LOCK_KEY = 0x7374616C6C73
# What procrastinate records for a job whose row ended this way.
_FINAL = {
    JobStatus.SUCCEEDED: Status.SUCCEEDED,
    JobStatus.CANCELLED: Status.ABORTED,
    JobStatus.FAILED: Status.FAILED,
}


class HandBack(Exception):
    """A shutdown stopped the job here: procrastinate retries it (on another worker)."""


class QueueWorker:
    """Runs procrastinate's worker for the ``assemble`` task, and the stall sweep."""

    def __init__(
        self,
        *,
        settings: Settings,
        name: str,
        app: App,
        queue: JobQueue,
        database: Database,
        jobs: JobStore,
        attempts: Attempts,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._settings = settings
        self.name = name
        self._app = app
        self._queue = queue
        self._database = database
        self._jobs = jobs
        self._attempts = attempts
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # The attempts running here, by job id, and those we were told to cancel.
        self._running: dict[str, Job] = {}
        self._cancelled: set[str] = set()
        # The procrastinate worker id we found pruned (given up for dead), once.
        self._given_up: int | None = None
        app.task(
            name=TASK_NAME,
            queue=QUEUE_NAME,
            pass_context=True,
            # Only a hand-back is retried by procrastinate itself; crashes are retried by
            # the stall sweep, which counts them against our attempt cap.
            retry=RetryStrategy(retry_exceptions=[HandBack]),
        )(self._assemble)
        self._worker = Worker(
            app,
            queues=[QUEUE_NAME],
            name=name,
            concurrency=settings.max_concurrent_assemblies,
            fetch_job_polling_interval=settings.job_poll_interval_s,
            abort_job_polling_interval=settings.worker_heartbeat_s,
            shutdown_graceful_timeout=settings.shutdown_grace_s,
            listen_notify=True,
            install_signal_handlers=False,
            update_heartbeat_interval=settings.worker_heartbeat_s,
            stalled_worker_timeout=settings.worker_stall_s,
        )

    async def start(self) -> None:
        run = asyncio.create_task(self._run_worker(), name="queue_worker.run")
        self._tasks = [
            run,
            asyncio.create_task(self._sweep_loop(), name="queue_worker.sweep"),
            asyncio.create_task(self._keep_alive(run), name="queue_worker.keep_alive"),
        ]

    async def stop(self) -> None:
        """Drain: stop fetching, let running jobs finish for ``shutdown_grace_s``, hand
        back the rest (see the module's docstring)."""
        self._stopping.set()
        self._worker.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Procrastinate re-queued what we handed back without a word: wake the others.
        try:
            await self._notify(None)
        except Exception:
            logger.exception("event=queue_worker.notify_failed worker=%s", self.name)

    async def _run_worker(self) -> None:
        """Run procrastinate's worker until we stop it; if it stops on its own (it does
        when its heartbeat or listener fails: PostgreSQL gone), start it again after a
        heartbeat, so a database that comes back finds its workers working."""
        while not self._stopping.is_set():
            logger.info("event=queue_worker.started worker=%s", self.name)
            try:
                # No await between the check above and here: a stop() can't slip between.
                await self._worker.run()
            except Exception:
                logger.exception("event=queue_worker.failed worker=%s", self.name)
            if self._stopping.is_set():
                return
            logger.warning("event=queue_worker.restarting worker=%s", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._settings.worker_heartbeat_s)

    async def _keep_alive(self, run: asyncio.Task[None]) -> None:
        """Beat for this worker until its run is over, drain included.

        Procrastinate stops its own heartbeat as soon as a shutdown begins, then waits
        up to ``shutdown_grace_s`` for the running jobs: a grace longer than
        ``worker_stall_s`` would have another worker's sweep take a job that is still
        running here. So we beat as well, as long as the worker is registered.
        """
        while not run.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(run), self._settings.worker_heartbeat_s)
                return
            worker_id = self._worker.worker_id
            if worker_id is None or worker_id == self._given_up:
                continue
            try:
                await self._app.job_manager.update_heartbeat(worker_id)
                if not await self._registered(worker_id):
                    await self._give_up(worker_id)
                    continue
                await self._cancel_requested()
            except Exception:
                logger.exception("event=queue_worker.heartbeat_failed worker=%s", self.name)

    async def _registered(self, worker_id: int) -> bool:
        """Whether our procrastinate worker row is still there (a sweep prunes it once we
        have been silent for ``worker_stall_s``)."""
        found = await self._database.fetch_val(
            "SELECT count(*) FROM procrastinate_workers WHERE id = :id", {"id": worker_id}
        )
        return bool(found)

    async def _give_up(self, worker_id: int) -> None:
        """We were given up for dead (frozen, cut off) and our jobs handed to others: stop
        taking jobs under this identity and kill our engines. Their attempts' ends are
        refused (our row and audio writes apply to our own attempt only, and the retries
        are other procrastinate jobs); ``_run_worker`` then joins again as a new worker."""
        self._given_up = worker_id
        logger.error(
            "event=queue_worker.given_up worker=%s worker_id=%s running=%s",
            self.name,
            worker_id,
            ",".join(sorted(self._running)),
        )
        self._worker.stop()
        for job_id in list(self._running):
            await self._attempts.cancel(job_id)

    async def _cancel_requested(self) -> None:
        """Cancel the attempts here whose owner asked to, as the embedded runner does at
        its lease renewal: a cancel whose procrastinate abort never came still arrives."""
        for job_id in await self._jobs.cancel_requested(list(self._running)):
            if job_id not in self._cancelled:
                self._cancelled.add(job_id)
                logger.info("event=queue_worker.cancel_requested job_id=%s", job_id)
                await self._attempts.cancel(job_id)

    async def _assemble(self, context: JobContext, job_id: str) -> None:
        """The ``assemble`` task: one attempt at our job ``job_id``."""
        try:
            job = await self._jobs.start(job_id, worker=self.name, queue_job_id=context.job.id)
            if job is None:
                # Cancelled before it started (or left by a refused submit): nothing to do.
                logger.info("event=queue_worker.skipped job_id=%s", job_id)
                return
            self._running[job_id] = job
            outcome = await self._attempts.attempt(job)
        except asyncio.CancelledError:
            # Procrastinate aborted the task; on the way out the supervisor has killed the
            # engine's group. The row may or may not have been started here.
            current = await self._jobs.get(job_id)
            ours = (
                current is not None
                and current.status is JobStatus.RUNNING
                and current.lease_owner == self.name
            )
            if context.abort_reason() is AbortReason.SHUTDOWN:
                if current is not None and ours:
                    await self._attempts.hand_back(current)
                raise HandBack(job_id) from None
            if current is not None and ours:
                await self._jobs.mark_cancelled(job_id, attempt=current)  # the owner's cancel
            logger.info("event=tasks.assemble.cancelled job_id=%s", job_id)
            raise
        finally:
            self._running.pop(job_id, None)
            self._cancelled.discard(job_id)
        status = await asyncio.shield(self._attempts.record(job, outcome))
        if status is JobStatus.CANCELLED:
            # Cancelled at our heartbeat rather than by procrastinate's abort: its job
            # ends as aborted all the same.
            raise JobAborted(job_id)

    async def _sweep_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._settings.worker_heartbeat_s)
                return
            try:
                await self.recover_stalled()
                await self.hand_over_stray()
            except Exception:
                logger.exception("event=queue_worker.sweep_failed worker=%s", self.name)

    async def recover_stalled(self) -> int:
        """Retry, once, each job whose worker missed its heartbeats, and each row left
        running that no procrastinate job runs any more; return how many.

        A session advisory lock, held on one connection for the whole sweep, makes the
        sweeps of several workers take turns: each reads the stalled jobs afresh under it,
        so a job already retried (queued, or running on a live worker) is left alone. No
        transaction wraps the sweep: each row's change commits before its retry is queued.
        """
        async with self._database.connection() as connection:
            locked = await connection.fetch_val(
                "SELECT pg_try_advisory_lock(:key)", {"key": STALL_LOCK_KEY}
            )
            if not locked:
                return 0  # another worker is sweeping right now
            try:
                return await self._retry_stalled() + await self._retry_orphaned()
            finally:
                await connection.execute("SELECT pg_advisory_unlock(:key)", {"key": STALL_LOCK_KEY})

    async def _retry_stalled(self) -> int:
        stall_s = self._settings.worker_stall_s
        manager = self._app.job_manager
        recovered = 0
        await manager.prune_stalled_workers(stall_s)
        for stalled in await manager.get_stalled_jobs(
            seconds_since_heartbeat=stall_s, queue=QUEUE_NAME, task_name=TASK_NAME
        ):
            job_id = str(stalled.task_kwargs.get("job_id", ""))
            try:
                job = await self._jobs.get(job_id)
                status = job.status if job is not None else JobStatus.FAILED
                if job is not None and status is JobStatus.RUNNING:
                    status = await self._attempts.recover(job)  # committed here
                if status is JobStatus.RUNNING:
                    continue  # running again elsewhere: another sweep got there first
                # The lost attempt's carrier ends; a retry gets a carrier of its own, so
                # the lost worker, if it comes back, can end nothing but this one.
                await manager.finish_job(
                    stalled, status=_FINAL.get(status, Status.FAILED), delete_job=False
                )
                if job is not None and status is JobStatus.QUEUED:
                    await self._requeue(job)
            except Exception:
                # This job is tried again at the next sweep; the others go on.
                logger.exception("event=queue_worker.recovery_failed job_id=%s", job_id)
                continue
            recovered += 1
            logger.warning(
                "event=queue_worker.stalled_job job_id=%s queue_job_id=%s status=%s",
                job_id,
                stalled.id,
                status.value,
            )
        return recovered

    async def _retry_orphaned(self) -> int:
        """Recover rows left ``running`` whose procrastinate job is not running any more
        (the worker's database calls failed after it started the row, and procrastinate
        ended its job): no heartbeat, lease or boot sweep would ever see them."""
        rows = await self._database.fetch_all(
            "SELECT jobs.id FROM jobs"
            " LEFT JOIN procrastinate_jobs ON procrastinate_jobs.id = jobs.queue_job_id"
            " WHERE jobs.status = 'running' AND jobs.queue_job_id IS NOT NULL"
            " AND (procrastinate_jobs.id IS NULL OR procrastinate_jobs.status <> 'doing')"
        )
        recovered = 0
        for row in rows:
            try:
                job = await self._jobs.get(str(row[0]))
                if job is None or job.status is not JobStatus.RUNNING:
                    continue
                status = await self._attempts.recover(job)
                if status is JobStatus.RUNNING:
                    continue
                if status is JobStatus.QUEUED:
                    await self._requeue(job)
            except Exception:
                logger.exception("event=queue_worker.recovery_failed job_id=%s", row[0])
                continue
            recovered += 1
            logger.warning(
                "event=queue_worker.orphaned_job job_id=%s queue_job_id=%s status=%s",
                job.id,
                job.queue_job_id,
                status.value,
            )
        return recovered

    async def _requeue(self, job: Job) -> None:
        """Give a row put back in the queue a new procrastinate job. Its old id is cleared
        first, so that if this fails the stray sweep (``hand_over_stray``) does it."""
        await self._jobs.set_queue_job_id(job.id, None)
        try:
            await self._queue.hand_over(job)
        except Exception:
            logger.exception("event=queue_worker.requeue_failed job_id=%s", job.id)

    async def hand_over_stray(self) -> int:
        """Hand over queued rows no queue job carries (their hand-over failed after they
        committed); return how many."""
        created_before = self._clock() - self._settings.worker_stall_s
        stray = await self._jobs.undispatched(created_before=created_before)
        for job in stray:
            with contextlib.suppress(Exception):
                await self._queue.hand_over(job)
        return len(stray)

    async def _notify(self, queue_job_id: int | None) -> None:
        """Wake idle workers for a retried job, as procrastinate does for a new one (its
        trigger fires on inserts only)."""
        payload: dict[str, Any] = {"type": "job_inserted", "job_id": queue_job_id}
        await self._database.execute(
            "SELECT pg_notify(:channel, :payload)",
            {"channel": f"procrastinate_queue_v1#{QUEUE_NAME}", "payload": json.dumps(payload)},
        )
