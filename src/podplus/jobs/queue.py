"""The job queue the API uses, in both modes: one job model, two carriers.

A job is always a row in our ``jobs`` table: the API writes it, the studio and the API
read its state from it, and the attempt code (``podplus.jobs.attempt``) records its end
in it. What differs is how the job reaches a worker:

- **Embedded** (SQLite): the ``Runner`` claims queued rows from the table itself.
- **PostgreSQL**: each row is carried by a procrastinate job (task ``assemble`` on the
  queue ``assembly``) that a ``podplus worker`` (``podplus.jobs.queue_worker``) fetches.
  The procrastinate job's ``queueing_lock`` and ``lock`` are the episode's id, so the
  queue itself refuses a second queued job for an episode and never runs two at once.

We keep the procrastinate job's id in our row (``jobs.queue_job_id``) rather than finding
it by lock when a cancel comes: an episode can have two procrastinate jobs under its lock
for a moment (one ending after its abort, the next already queued), and only the id
names the one our row is carried by, in one indexed read with no JSON filter.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import psycopg
from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager

from podplus.errors import EpisodeBusy
from podplus.storage.jobs import Job, JobStore

if TYPE_CHECKING:
    from podplus.jobs.runner import Runner

logger = logging.getLogger(__name__)

TASK_NAME = "assemble"
QUEUE_NAME = "assembly"
# The key of the PostgreSQL advisory lock two processes take to create procrastinate's
# schema one after the other ("podplus" in ASCII, an arbitrary constant of our own).
SCHEMA_LOCK_KEY = 0x706F64706C7573
QUEUE_CONNECTION_WAIT_S = 5.0


def uses_queue(database_url: str) -> bool:
    """Whether jobs travel by procrastinate (PostgreSQL) rather than the embedded runner."""
    return database_url.startswith(("postgresql", "postgres:"))


def libpq_url(database_url: str) -> str:
    """Our URL in libpq's spelling (no SQLAlchemy driver suffix such as ``+asyncpg``)."""
    scheme, rest = database_url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else database_url


async def ensure_schema(database_url: str) -> bool:
    """Create procrastinate's tables and functions unless they exist; True if it did.

    Safe to run from several processes at once: they take an advisory lock in turn, and
    each looks before it creates."""
    async with await psycopg.AsyncConnection.connect(
        libpq_url(database_url), autocommit=True
    ) as connection:
        await connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            cursor = await connection.execute("SELECT to_regclass('procrastinate_jobs')")
            row = await cursor.fetchone()
            if row is not None and row[0] is not None:
                return False
            # Sent with no parameters, so its ``%`` signs are left alone.
            await connection.execute(SchemaManager.get_schema())
            logger.info("event=queue.schema_created")
            return True
        finally:
            await connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


def queue_app(database_url: str, *, max_connections: int) -> App:
    """A procrastinate app on our database (not opened): ``await app.open_async()``."""
    return App(
        connector=PsycopgConnector(
            conninfo=libpq_url(database_url),
            min_size=1,
            max_size=max_connections,
            # A request waits this long for a connection, not the pool's default 30 s:
            # past it the API answers 503 (``podplus.storage.database.is_unavailable``).
            timeout=QUEUE_CONNECTION_WAIT_S,
        )
    )


class JobQueue:
    """Queues and cancels jobs for the API, whichever carrier takes them to a worker.

    ``app`` is the procrastinate app on PostgreSQL (None in the embedded mode); ``runner``
    is this process's embedded runner, when it has one, to be woken and told of cancels.
    """

    def __init__(self, *, jobs: JobStore, app: App | None, runner: Runner | None = None) -> None:
        self._jobs = jobs
        self._app = app
        self.runner = runner

    @property
    def app(self) -> App | None:
        return self._app

    async def submit(self, *, owner_id: str, episode_id: str, max_active: int | None) -> Job:
        """Queue a job for ``episode_id``: ``EpisodeBusy`` if it has a live one (in our
        table, or in procrastinate's queue), ``JobQuotaExceeded`` past ``max_active``.
        A refused job leaves no row behind."""
        job = await self._jobs.enqueue(
            owner_id=owner_id, episode_id=episode_id, max_active=max_active
        )
        try:
            return await self.hand_over(job)
        except BaseException:
            await self._jobs.discard(job.id)
            raise

    async def hand_over(self, job: Job) -> Job:
        """Give a queued row, committed, to its carrier; ``EpisodeBusy`` if procrastinate
        already has a queued job for the episode (its queueing lock)."""
        if self._app is None:
            if self.runner is not None:
                self.runner.wake()
            return job
        try:
            queue_job_id = await self._app.configure_task(
                TASK_NAME, queue=QUEUE_NAME, lock=job.episode_id, queueing_lock=job.episode_id
            ).defer_async(job_id=job.id)
        except AlreadyEnqueued as exc:
            raise EpisodeBusy(job.episode_id) from exc
        await self._jobs.set_queue_job_id(job.id, queue_job_id)
        logger.info(
            "event=queue.deferred job_id=%s episode_id=%s queue_job_id=%s",
            job.id,
            job.episode_id,
            queue_job_id,
        )
        return job

    async def handed_over_later(self, job: Job) -> None:
        """``hand_over`` for a row queued inside a larger transaction that has committed
        (a production): a failure here is logged, and the workers' sweep of rows no queue
        job carries (``QueueWorker``) hands it over later."""
        try:
            await self.hand_over(job)
        except Exception:
            logger.exception("event=queue.hand_over_failed job_id=%s", job.id)

    async def cancel(self, job: Job) -> None:
        """Cancel a live job: at once if it is still queued; a running one's engine group
        is killed by whichever worker runs it (procrastinate's abort reaches that worker by
        NOTIFY; the embedded runner here, or at the next lease renewal elsewhere)."""
        if await self._jobs.cancel_queued(job.id):
            if self._app is not None and job.queue_job_id is not None:
                # A worker that fetched it meanwhile finds the row cancelled and stops.
                await self._app.job_manager.cancel_job_by_id_async(job.queue_job_id, abort=True)
            return
        await self._jobs.request_cancel(job.id)
        if self._app is not None:
            current = await self._jobs.get(job.id)
            if current is not None and current.queue_job_id is not None:
                await self._app.job_manager.cancel_job_by_id_async(current.queue_job_id, abort=True)
        elif self.runner is not None:
            self.runner.cancel(job.id)
