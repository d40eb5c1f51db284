"""The runner: claims queued jobs up to the concurrency limit and sees each one through.

It lives inside the API process by default (``podplus serve``) or alone (``podplus
worker``); either way it only talks to the job table, so several can share one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.manifest import build_manifest, media_ids, output_extension
from podplus.jobs.supervisor import EngineOutcome, Supervisor
from podplus.jobs.sweep import SweepResult, boot_sweep
from podplus.metrics import Metrics, failure_cause
from podplus.settings import Settings
from podplus.storage.episodes import EpisodeAudio, EpisodeStore
from podplus.storage.files import FileStore
from podplus.storage.jobs import Job, JobStatus, JobStore
from podplus.storage.media import MediaStore
from podplus.storage.processes import ProcessStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerStores:
    jobs: JobStore
    episodes: EpisodeStore
    media: MediaStore
    processes: ProcessStore
    files: FileStore


class Runner:
    def __init__(
        self,
        *,
        settings: Settings,
        stores: RunnerStores,
        supervisor: Supervisor,
        identity: WorkerIdentity,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._stores = stores
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
            processes=self._stores.processes,
            jobs=self._stores.jobs,
            max_attempts=self._settings.assembly_max_attempts,
            grace_s=self._settings.shutdown_grace_s,
        )
        self._metrics.sweep_kills.inc(self.last_sweep.killed)
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
                job = await self._stores.jobs.claim(
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
                to_cancel = await self._stores.jobs.renew(
                    self.active_job_ids, lease_s=self._settings.job_lease_s
                )
                for job_id in to_cancel:
                    await self._supervisor.cancel(job_id)
            except Exception:
                logger.exception("event=runner.lease_renewal_failed")

    async def _run(self, job: Job) -> None:
        started = time.monotonic()
        try:
            status = await self._assemble(job)
        except Exception as exc:
            logger.exception("event=tasks.assemble.error job_id=%s", job.id)
            await self._stores.jobs.fail(job.id, error=f"internal error: {exc}")
            status = JobStatus.FAILED
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

    async def _assemble(self, job: Job) -> JobStatus:
        stores = self._stores
        episode = await stores.episodes.get(job.episode_id)
        if episode is None:
            await stores.jobs.fail(job.id, error="the episode was deleted")
            return JobStatus.FAILED
        media = await stores.media.many(media_ids(episode.spec), owner_id=episode.owner_id)
        missing = media_ids(episode.spec) - set(media)
        if missing:
            await stores.jobs.fail(job.id, error="a media file this episode uses was deleted")
            return JobStatus.FAILED

        work_dir = stores.files.work_dir(job.id)
        work_dir.mkdir(parents=True, exist_ok=True)
        manifest_path = work_dir / "manifest.json"
        manifest_path.write_text(
            json.dumps(build_manifest(episode, media, stores.files.media_path), indent=2)
        )
        output = work_dir / f"episode.{output_extension(episode.spec)}"
        progress = _ProgressWriter(stores.jobs, job.id, self._settings.progress_write_interval_s)

        async def on_start(pid: int) -> None:
            logger.info(
                "event=tasks.assemble.dispatched episode_id=%s job_id=%s pid=%s attempt=%s",
                job.episode_id,
                job.id,
                pid,
                job.attempts,
            )

        try:
            outcome = await self._supervisor.run(
                job_id=job.id,
                argv=[
                    *self._settings.engine_command,
                    "assemble",
                    str(manifest_path),
                    "-o",
                    str(output),
                    "--json",
                ],
                timeout_s=self._settings.assembly_timeout_s,
                on_event=progress.on_event,
                on_start=on_start,
                extra_info={"episode_id": job.episode_id},
            )
            return await self._record(job, outcome, output)
        finally:
            for leftover in work_dir.glob("*"):
                leftover.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                work_dir.rmdir()

    async def _record(self, job: Job, outcome: EngineOutcome, output: Any) -> JobStatus:
        jobs = self._stores.jobs
        if outcome.shut_down:
            return await jobs.requeue_or_fail(
                job.id,
                max_attempts=self._settings.assembly_max_attempts,
                error="interrupted",
                count_attempt=False,
            )
        if outcome.cancelled:
            await jobs.mark_cancelled(job.id)
            return JobStatus.CANCELLED
        if not outcome.succeeded or not output.exists():
            await jobs.fail(job.id, error=outcome.error)
            self._metrics.failures.labels(failure_cause(outcome.error)).inc()
            return JobStatus.FAILED
        episode = await self._stores.episodes.get(job.episode_id)
        if episode is None:
            await jobs.fail(job.id, error="the episode was deleted")
            return JobStatus.FAILED
        done = outcome.done or {}
        audio_name = f"{job.episode_id}-{job.id}{output.suffix}"
        self._stores.files.publish(output, self._stores.files.episode_path(audio_name))
        await self._stores.episodes.set_audio(
            job.episode_id,
            EpisodeAudio(
                audio_name=audio_name,
                audio_size_bytes=self._stores.files.episode_path(audio_name).stat().st_size,
                duration_s=float(done.get("duration_s") or 0.0),
                integrated_lufs=done.get("integrated_lufs"),
                true_peak_db=done.get("true_peak_db"),
            ),
        )
        await jobs.succeed(job.id)
        if episode.audio_name and episode.audio_name != audio_name:
            self._stores.files.remove(self._stores.files.episode_path(episode.audio_name))
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
