"""The job table: the queue that handlers write and runners claim.

A claim is a conditional UPDATE (``WHERE status = 'queued'``) stamped with a unique
token, so any number of runners, on one host or many, can share the table: exactly
one of them wins each job. A running job carries a lease its runner renews; a lease
that lapses means its runner is gone. Claims are fair across owners (``fair_order``),
and an owner may have only so many jobs queued or running (``enqueue(max_active=…)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import sqlalchemy as sa
from databases import Database

from podplus.errors import EpisodeBusy, JobQuotaExceeded
from podplus.ids import new_id
from podplus.storage.pages import PageOf, Position, newest_first
from podplus.storage.schema import jobs, users


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        return self in (JobStatus.QUEUED, JobStatus.RUNNING)


ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


class FailureCause(StrEnum):
    """Why a failed job failed: a small fixed set, fit for a metrics label or a client's branch.

    The job's ``error`` says it in words for people; this says it for programs.
    """

    ENGINE_ERROR = "engine_error"  # the engine gave up, with a message (bad input, ffmpeg error)
    CRASHED = "crashed"  # the engine died of a signal nobody sent on purpose
    TIMEOUT = "timeout"  # the engine passed the wall-clock limit
    INTERRUPTED = "interrupted"  # its runner went away too many times (shutdown, crash)
    INPUT_MISSING = "input_missing"  # the episode or one of its files was deleted meanwhile
    STORE_UNAVAILABLE = "store_unavailable"  # the media store didn't answer (fetch or upload)
    INTERNAL = "internal"  # a bug on our side; the log has the traceback


@dataclass(frozen=True)
class Job:
    id: str
    owner_id: str
    episode_id: str
    status: JobStatus
    progress: float
    phase: str | None
    error: str | None
    failure_cause: FailureCause | None
    attempts: int
    cancel_requested: bool
    lease_owner: str | None
    lease_expires_at: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    # The procrastinate job carrying this one, on PostgreSQL (``podplus.jobs.queue``).
    queue_job_id: int | None = None


def _job(row: object) -> Job:
    mapping = dict(row._mapping)  # type: ignore[attr-defined]
    mapping["status"] = JobStatus(mapping["status"])
    if mapping["failure_cause"] is not None:
        mapping["failure_cause"] = FailureCause(mapping["failure_cause"])
    mapping["cancel_requested"] = bool(mapping["cancel_requested"])
    return Job(**mapping)


def fair_order() -> tuple[sa.ColumnElement[object], ...]:
    """The order queued jobs are claimed in: fair across owners, first come within one.

    First the owners with the fewest jobs running, then among those the one whose last
    job started longest ago (or never), then the oldest job. One owner's fiftieth job so
    waits behind every other owner's first, whatever the order they were queued in.
    """
    other = jobs.alias("other")
    running = (
        sa.select(sa.func.count())
        .select_from(other)
        .where(other.c.owner_id == jobs.c.owner_id, other.c.status == JobStatus.RUNNING.value)
        .scalar_subquery()
    )
    last_started = (
        sa.select(sa.func.max(other.c.started_at))
        .where(other.c.owner_id == jobs.c.owner_id)
        .scalar_subquery()
    )
    return running, sa.func.coalesce(last_started, 0.0), jobs.c.created_at, jobs.c.id


def still_running(attempt: Job | None) -> sa.ColumnElement[bool]:
    """The job is running: with ``attempt``, still the very attempt ``attempt`` was (same
    lease owner, same attempt count), not one that replaced it."""
    running = jobs.c.status == JobStatus.RUNNING.value
    if attempt is None:
        return running
    return sa.and_(
        running,
        jobs.c.attempts == attempt.attempts,
        jobs.c.lease_owner.is_(None)
        if attempt.lease_owner is None
        else jobs.c.lease_owner == attempt.lease_owner,
    )


class JobEvents(Protocol):
    """Told of each job that ends (succeeded, failed, cancelled), inside the transaction
    that ends it: the webhook outbox (``podplus.storage.webhook_deliveries``)."""

    async def job_finished(self, job: Job) -> None: ...


class JobStore:
    """The job table. Times (``created_at``, leases) come from ``clock``, in epoch seconds."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], float] = time.time,
        events: JobEvents | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._events = events

    # -- what handlers do ------------------------------------------------------------------

    async def enqueue(
        self, *, owner_id: str, episode_id: str, max_active: int | None = None
    ) -> Job:
        """Queue a job for ``episode_id``; ``EpisodeBusy`` if it has a live one already.

        With ``max_active``, ``JobQuotaExceeded`` when the owner already has that many jobs
        queued or running. The count and the insert are one statement (and on PostgreSQL
        the owner's row is locked first), so concurrent requests can't both take the last
        place.
        """
        job = Job(
            id=new_id(),
            owner_id=owner_id,
            episode_id=episode_id,
            status=JobStatus.QUEUED,
            progress=0.0,
            phase=None,
            error=None,
            failure_cause=None,
            attempts=0,
            cancel_requested=False,
            lease_owner=None,
            lease_expires_at=None,
            created_at=self._clock(),
            started_at=None,
            finished_at=None,
        )
        row = {**job.__dict__, "status": job.status.value}
        try:
            if max_active is None:
                # One round trip: the row is exactly what we built, so nothing is read back.
                await self._db.execute(jobs.insert().values(**row))
                inserted = True
            else:
                inserted = await self._insert_within_quota(row, max_active=max_active)
        except Exception as exc:
            # The partial unique index refused a second live job for the episode.
            if await self.active_for_episode(episode_id) is not None:
                raise EpisodeBusy(episode_id) from exc
            raise
        if not inserted:
            if await self.active_for_episode(episode_id) is not None:
                raise EpisodeBusy(episode_id)
            raise JobQuotaExceeded(limit=max_active or 0)
        return job

    async def _insert_within_quota(self, row: dict[str, object], *, max_active: int) -> bool:
        """Insert ``row`` unless its owner has ``max_active`` live jobs; True if it was."""
        columns = [name for name, value in row.items() if value is not None]
        active = (
            sa.select(sa.func.count())
            .select_from(jobs)
            .where(jobs.c.owner_id == row["owner_id"], jobs.c.status.in_(ACTIVE))
            .scalar_subquery()
        )
        values = sa.select(
            *(sa.literal(row[name], type_=jobs.c[name].type).label(name) for name in columns)
        ).where(active < max_active)
        insert = jobs.insert().from_select(columns, values).returning(jobs.c.id)
        if self._db.url.dialect != "postgresql":
            # SQLite runs a writing statement under the database's write lock, whole.
            return await self._db.fetch_val(insert) is not None
        async with self._db.transaction():
            # Under READ COMMITTED two inserts would each count without the other's row:
            # the owner's row lock puts them one after the other.
            await self._db.execute(
                sa.select(users.c.id).where(users.c.id == row["owner_id"]).with_for_update()
            )
            return await self._db.fetch_val(insert) is not None

    async def get(self, job_id: str, *, owner_id: str | None = None) -> Job | None:
        query = jobs.select().where(jobs.c.id == job_id)
        if owner_id is not None:
            query = query.where(jobs.c.owner_id == owner_id)
        row = await self._db.fetch_one(query)
        return None if row is None else _job(row)

    async def owned_by(
        self, *, owner_id: str, limit: int, after: Position | None = None
    ) -> PageOf[Job]:
        """One page of the owner's jobs, newest first (see ``podplus.storage.pages``)."""
        return await newest_first(
            self._db,
            jobs,
            where=[jobs.c.owner_id == owner_id],
            limit=limit,
            after=after,
            convert=_job,
        )

    async def active_count(self, *, owner_id: str) -> int:
        """How many jobs the owner has queued or running (their ``active_jobs`` quota's use)."""
        return int(
            await self._db.fetch_val(
                sa.select(sa.func.count())
                .select_from(jobs)
                .where(jobs.c.owner_id == owner_id, jobs.c.status.in_(ACTIVE))
            )
        )

    async def active_for_episode(self, episode_id: str) -> Job | None:
        row = await self._db.fetch_one(
            jobs.select().where(jobs.c.episode_id == episode_id, jobs.c.status.in_(ACTIVE))
        )
        return None if row is None else _job(row)

    async def latest_for_episodes(self, episode_ids: list[str]) -> dict[str, Job]:
        if not episode_ids:
            return {}
        newest = (
            sa.select(jobs.c.episode_id, sa.func.max(jobs.c.created_at).label("created_at"))
            .where(jobs.c.episode_id.in_(episode_ids))
            .group_by(jobs.c.episode_id)
            .subquery()
        )
        rows = await self._db.fetch_all(
            jobs.select().join(
                newest,
                sa.and_(
                    jobs.c.episode_id == newest.c.episode_id,
                    jobs.c.created_at == newest.c.created_at,
                ),
            )
        )
        return {job.episode_id: job for job in map(_job, rows)}

    async def cancel_queued(self, job_id: str) -> bool:
        """Cancel a job no runner has claimed yet; False if it was already claimed or done."""
        return await self._transition(
            job_id,
            where=jobs.c.status == JobStatus.QUEUED.value,
            status=JobStatus.CANCELLED,
            error="cancelled",
        )

    async def request_cancel(self, job_id: str) -> None:
        """Flag a running job; its runner notices on its next lease renewal."""
        await self._db.execute(
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING.value)
            .values(cancel_requested=True)
        )

    async def set_queue_job_id(self, job_id: str, queue_job_id: int | None) -> None:
        """Remember which procrastinate job carries ``job_id`` (what a cancel aborts);
        None: none does (the stray sweep, ``undispatched``, hands it over again)."""
        # A queued row only: once started, the row names the job that started it.
        await self._db.execute(
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value)
            .values(queue_job_id=queue_job_id)
        )

    async def discard(self, job_id: str) -> None:
        """Delete a queued row the queue refused to carry: as if it had never been asked."""
        await self._db.execute(
            jobs.delete().where(
                jobs.c.id == job_id,
                jobs.c.status == JobStatus.QUEUED.value,
                jobs.c.queue_job_id.is_(None),
            )
        )

    async def undispatched(self, *, created_before: float) -> list[Job]:
        """Queued rows that no queue job carries, queued before ``created_before``: their
        hand-over failed after the row committed (a production's transaction, a lost
        connection)."""
        rows = await self._db.fetch_all(
            jobs.select().where(
                jobs.c.status == JobStatus.QUEUED.value,
                jobs.c.queue_job_id.is_(None),
                jobs.c.created_at < created_before,
            )
        )
        return [_job(row) for row in rows]

    # -- what runners do -------------------------------------------------------------------

    async def start(
        self, job_id: str, *, worker: str, queue_job_id: int | None = None
    ) -> Job | None:
        """Mark a queued job running on ``worker`` (one more attempt); None if it is not
        queued any more (cancelled meanwhile, or another worker started it).

        The queue carriers' claim: procrastinate has already given the job to this worker,
        and this conditional UPDATE is what makes the row agree, once. ``queue_job_id`` is
        the procrastinate job that brought it: what a cancel aborts, and what the workers'
        sweep checks is still running it.
        """
        now = self._clock()
        carrier = {} if queue_job_id is None else {"queue_job_id": queue_job_id}
        changed = await self._db.fetch_val(
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value)
            .values(
                status=JobStatus.RUNNING.value,
                lease_owner=worker,
                lease_expires_at=None,
                attempts=jobs.c.attempts + 1,
                started_at=now,
                finished_at=None,
                progress=0.0,
                phase="starting",
                error=None,
                failure_cause=None,
                **carrier,
            )
            .returning(jobs.c.id)
        )
        return None if changed is None else await self.get(job_id)

    async def lapsed(self, *, now: float) -> list[Job]:
        """Running jobs whose lease ran out before ``now``: their runner stopped renewing."""
        rows = await self._db.fetch_all(
            jobs.select().where(
                jobs.c.status == JobStatus.RUNNING.value,
                jobs.c.lease_expires_at.is_not(None),
                jobs.c.lease_expires_at < now,
            )
        )
        return [_job(row) for row in rows]

    async def claim(self, *, worker_id: str, lease_s: float, max_attempts: int) -> Job | None:
        """Take the next queued job (see ``fair_order``), or None when the queue is empty."""
        while True:
            candidate = await self._db.fetch_val(
                sa.select(jobs.c.id)
                .where(jobs.c.status == JobStatus.QUEUED.value)
                .order_by(*fair_order())
                .limit(1)
            )
            if candidate is None:
                return None
            now = self._clock()
            token = f"{worker_id}#{new_id()[:8]}"
            await self._db.execute(
                jobs.update()
                .where(jobs.c.id == candidate, jobs.c.status == JobStatus.QUEUED.value)
                .values(
                    status=JobStatus.RUNNING.value,
                    lease_owner=token,
                    lease_expires_at=now + lease_s,
                    attempts=jobs.c.attempts + 1,
                    started_at=now,
                    finished_at=None,
                    progress=0.0,
                    phase="starting",
                    error=None,
                    failure_cause=None,
                )
            )
            job = await self.get(candidate)
            if job is not None and job.lease_owner == token:
                return job
            # Another runner won this one; try the next.

    async def renew(self, job_ids: list[str], *, lease_s: float) -> set[str]:
        """Extend the leases; return the ids whose owner asked to cancel them."""
        if not job_ids:
            return set()
        await self._db.execute(
            jobs.update()
            .where(jobs.c.id.in_(job_ids), jobs.c.status == JobStatus.RUNNING.value)
            .values(lease_expires_at=self._clock() + lease_s)
        )
        rows = await self._db.fetch_all(
            sa.select(jobs.c.id).where(jobs.c.id.in_(job_ids), jobs.c.cancel_requested)
        )
        return {row[0] for row in rows}

    async def cancel_requested(self, job_ids: list[str]) -> set[str]:
        """Those of these running jobs whose owner asked to cancel them."""
        if not job_ids:
            return set()
        rows = await self._db.fetch_all(
            sa.select(jobs.c.id).where(
                jobs.c.id.in_(job_ids),
                jobs.c.status == JobStatus.RUNNING.value,
                jobs.c.cancel_requested,
            )
        )
        return {row[0] for row in rows}

    async def report_progress(self, job_id: str, *, fraction: float, phase: str) -> None:
        await self._db.execute(
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING.value)
            .values(progress=max(0.0, min(1.0, fraction)), phase=phase)
        )

    # ``attempt`` (the job as its attempt started) makes an ending apply to that attempt
    # only: a worker that was given up for dead and comes back late records nothing over
    # the attempt that replaced it.

    async def succeed(self, job_id: str, *, attempt: Job | None = None) -> None:
        await self._transition(
            job_id,
            where=still_running(attempt),
            status=JobStatus.SUCCEEDED,
            progress=1.0,
            phase="done",
        )

    async def fail(
        self, job_id: str, *, cause: FailureCause, error: str, attempt: Job | None = None
    ) -> None:
        """End a running job as failed: ``cause`` for programs, ``error`` for people."""
        await self._transition(
            job_id,
            where=still_running(attempt),
            status=JobStatus.FAILED,
            error=error,
            failure_cause=cause.value,
        )

    async def mark_cancelled(self, job_id: str, *, attempt: Job | None = None) -> None:
        await self._transition(
            job_id,
            where=still_running(attempt),
            status=JobStatus.CANCELLED,
            error="cancelled",
        )

    async def requeue_or_fail(
        self,
        job_id: str,
        *,
        max_attempts: int,
        count_attempt: bool = True,
        attempt: Job | None = None,
    ) -> JobStatus:
        """Put an interrupted job back in the queue, unless it has used up its attempts (then
        it fails as ``interrupted``), or its owner asked to cancel it.

        ``count_attempt=False`` is for a clean shutdown: the job did nothing wrong.
        Each change applies only to the very attempt that was read (same lease owner and
        attempt count), so when two live runners recover one job, the second changes
        nothing, even if a third has started the job again meanwhile. With ``attempt``,
        nothing changes unless the row is still that very attempt.
        """
        job = await self.get(job_id)
        if job is None or job.status is not JobStatus.RUNNING:
            return job.status if job else JobStatus.FAILED
        if attempt is not None and (job.attempts, job.lease_owner) != (
            attempt.attempts,
            attempt.lease_owner,
        ):
            return job.status  # another attempt's now: not ours to end
        same_attempt = still_running(job)
        attempts = job.attempts if count_attempt else max(0, job.attempts - 1)
        if job.cancel_requested:
            await self._transition(
                job_id, where=same_attempt, status=JobStatus.CANCELLED, error="cancelled"
            )
            return await self._status(job_id)
        if attempts >= max_attempts:
            await self._transition(
                job_id,
                where=same_attempt,
                status=JobStatus.FAILED,
                error="interrupted",
                failure_cause=FailureCause.INTERRUPTED.value,
            )
            return await self._status(job_id)
        await self._db.execute(
            jobs.update()
            .where(jobs.c.id == job_id, same_attempt)
            .values(
                status=JobStatus.QUEUED.value,
                attempts=attempts,
                lease_owner=None,
                lease_expires_at=None,
                progress=0.0,
                phase=None,
            )
        )
        return await self._status(job_id)

    async def _status(self, job_id: str) -> JobStatus:
        job = await self.get(job_id)
        return JobStatus.FAILED if job is None else job.status

    async def statuses(self, job_ids: list[str]) -> dict[str, JobStatus]:
        """The status of each of these jobs that exists."""
        found: dict[str, JobStatus] = {}
        for start in range(0, len(job_ids), 500):  # under every database's bind limit
            rows = await self._db.fetch_all(
                sa.select(jobs.c.id, jobs.c.status).where(
                    jobs.c.id.in_(job_ids[start : start + 500])
                )
            )
            found.update({row[0]: JobStatus(row[1]) for row in rows})
        return found

    async def running(self) -> list[Job]:
        rows = await self._db.fetch_all(
            jobs.select().where(jobs.c.status == JobStatus.RUNNING.value)
        )
        return [_job(row) for row in rows]

    async def count_by_status(self) -> dict[str, int]:
        rows = await self._db.fetch_all(
            sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        )
        return {row[0]: int(row[1]) for row in rows}

    async def _transition(
        self,
        job_id: str,
        *,
        where: sa.ColumnElement[bool],
        status: JobStatus,
        **values: object,
    ) -> bool:
        async with self._db.transaction():
            changed = await self._db.fetch_val(
                jobs.update()
                .where(jobs.c.id == job_id, where)
                .values(
                    status=status.value, finished_at=self._clock(), lease_expires_at=None, **values
                )
                .returning(jobs.c.id)
            )
            job = await self.get(job_id)
            # The job's end and its webhook deliveries commit together, or neither does.
            if changed is not None and job is not None and self._events is not None:
                await self._events.job_finished(job)
        return job is not None and job.status is status
