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
from procrastinate.job_context import AbortReason
from procrastinate.jobs import Status
from procrastinate.worker import Worker

from podplus.jobs.attempt import Attempts
from podplus.jobs.queue import QUEUE_NAME, TASK_NAME, JobQueue
from podplus.settings import Settings
from podplus.storage.jobs import JobStatus, JobStore

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
            if worker_id is None:
                continue
            try:
                await self._app.job_manager.update_heartbeat(worker_id)
            except Exception:
                logger.exception("event=queue_worker.heartbeat_failed worker=%s", self.name)

    async def _assemble(self, context: JobContext, job_id: str) -> None:
        """The ``assemble`` task: one attempt at our job ``job_id``."""
        try:
            job = await self._jobs.start(job_id, worker=self.name)
            if job is None:
                # Cancelled before it started (or left by a refused submit): nothing to do.
                logger.info("event=queue_worker.skipped job_id=%s", job_id)
                return
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
        await asyncio.shield(self._attempts.record(job, outcome))

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
        """Retry, once, each job whose worker missed its heartbeats; return how many.

        The advisory lock makes the sweeps of several workers take turns: each reads the
        stalled jobs afresh under it, so a job already retried (queued, or running on a
        live worker) is not stalled any more and is left alone.
        """
        stall_s = self._settings.worker_stall_s
        manager = self._app.job_manager
        recovered = 0
        async with self._database.transaction():
            locked = await self._database.fetch_val(
                "SELECT pg_try_advisory_xact_lock(:key)", {"key": STALL_LOCK_KEY}
            )
            if not locked:
                return 0  # another worker is sweeping right now
            await manager.prune_stalled_workers(stall_s)
            for stalled in await manager.get_stalled_jobs(
                seconds_since_heartbeat=stall_s, queue=QUEUE_NAME, task_name=TASK_NAME
            ):
                job_id = str(stalled.task_kwargs.get("job_id", ""))
                job = await self._jobs.get(job_id)
                status = job.status if job is not None else JobStatus.FAILED
                if job is not None and status is JobStatus.RUNNING:
                    status = await self._attempts.recover(job)
                if status is JobStatus.QUEUED:
                    await manager.retry_job(stalled)
                    await self._notify(stalled.id)
                elif status in _FINAL:
                    await manager.finish_job(stalled, status=_FINAL[status], delete_job=False)
                else:
                    continue  # running again elsewhere: another sweep got there first
                recovered += 1
                logger.warning(
                    "event=queue_worker.stalled_job job_id=%s queue_job_id=%s status=%s",
                    job_id,
                    stalled.id,
                    status.value,
                )
        return recovered

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
