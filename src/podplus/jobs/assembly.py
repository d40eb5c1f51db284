"""Assembling one episode, from a claimed job to its published audio; no queue in sight.

    episode and media → local copies → manifest.json → engine → store → row

The engine reads and writes local files only: the media come from the store through the
worker's scratch cache (``podplus.jobs.scratch``; nothing is copied when the store is the
local folder), and the rendered file goes to the store as the episode's audio, whole or
not at all. Everything it touches is passed in, so a test calls ``assemble_episode`` with
a job it made and an engine of its choosing. It never writes the job row: it returns a
``JobOutcome``, and the runner, which owns the queue, records it. Whatever the ending
(success, failure, cancel, shutdown, a store that doesn't answer, a bug), the job's work
folder is gone on return.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from podplus.engine.spec import describe
from podplus.errors import ObjectMissing, StoreUnavailable
from podplus.jobs.failures import engine_error_message
from podplus.jobs.manifest import build_manifest
from podplus.jobs.scratch import Scratch
from podplus.jobs.supervisor import EngineOutcome
from podplus.storage.episodes import Episode, EpisodeAudioFiles, EpisodeStore
from podplus.storage.jobs import FailureCause, Job, JobStatus
from podplus.storage.media import Media, MediaStore
from podplus.storage.reports import AssemblyReport

logger = logging.getLogger(__name__)

# Runs the engine with this command line to its end (the runner's is a supervised one).
RunEngine = Callable[[list[str]], Awaitable[EngineOutcome]]


@dataclass(frozen=True)
class AssemblyStores:
    """What an assembly reads and writes: the episode, its media (through the worker's
    scratch disk), and the episode's audio."""

    episodes: EpisodeStore
    media: MediaStore
    scratch: Scratch
    audio: EpisodeAudioFiles


@dataclass(frozen=True)
class JobOutcome:
    """How one attempt ended, as the job's next status: ``SUCCEEDED``, ``CANCELLED``,
    ``FAILED`` (with a cause, words for its owner, and the ``detail`` only the log gets),
    or ``QUEUED`` when a shutdown stopped it and it should run again."""

    status: JobStatus
    cause: FailureCause | None = None
    error: str | None = None
    detail: str | None = None

    @classmethod
    def failed(cls, cause: FailureCause, error: str, *, detail: str | None = None) -> JobOutcome:
        return cls(JobStatus.FAILED, cause, error, detail)


MEDIA_DELETED = "a media file this episode uses was deleted"
STORE_DOWN = "the media store did not answer; try again later"

SUCCEEDED = JobOutcome(JobStatus.SUCCEEDED)
CANCELLED = JobOutcome(JobStatus.CANCELLED)
INTERRUPTED = JobOutcome(JobStatus.QUEUED)


async def assemble_episode(
    job: Job,
    *,
    stores: AssemblyStores,
    engine_command: Sequence[str],
    run_engine: RunEngine,
) -> JobOutcome:
    """Assemble ``job``'s episode in the scratch folder ``work/<job id>/`` and publish the
    result.

    ``engine_command`` is the engine program (``[python, -m, podplus.engine]``); its
    ``assemble`` arguments are added here and the whole line handed to ``run_engine``.
    """
    try:
        return await _assemble(
            job, stores=stores, engine_command=engine_command, run_engine=run_engine
        )
    finally:
        # The whole folder: the engine keeps temporary folders of its own in it. Off the
        # loop: an hour of audio leaves hundreds of MB of intermediate behind.
        await asyncio.to_thread(stores.scratch.remove_work_dir, job.id)


async def _assemble(
    job: Job,
    *,
    stores: AssemblyStores,
    engine_command: Sequence[str],
    run_engine: RunEngine,
) -> JobOutcome:
    episode = await stores.episodes.get(job.episode_id)
    if episode is None:
        return JobOutcome.failed(FailureCause.INPUT_MISSING, "the episode was deleted")
    wanted = episode.spec.media_ids()
    media = await stores.media.many(wanted, owner_id=episode.owner_id)
    if wanted - set(media):
        return JobOutcome.failed(FailureCause.INPUT_MISSING, MEDIA_DELETED)

    # What an earlier attempt left (its host died mid-run) is of no use to this one.
    work_dir = await asyncio.to_thread(stores.scratch.make_work_dir, job.id)
    keys = [item.storage_name for item in media.values()]
    try:
        async with stores.scratch.local_copies(keys) as local:
            return await _render_and_publish(
                job,
                episode,
                media,
                local,
                work_dir=work_dir,
                stores=stores,
                engine_command=engine_command,
                run_engine=run_engine,
            )
    except ObjectMissing:
        return JobOutcome.failed(FailureCause.INPUT_MISSING, MEDIA_DELETED)
    except StoreUnavailable as exc:
        # Fetching the parts or storing the audio: the store's own time limit ended it.
        return JobOutcome.failed(FailureCause.STORE_UNAVAILABLE, STORE_DOWN, detail=repr(exc))


async def _render_and_publish(
    job: Job,
    episode: Episode,
    media: Mapping[str, Media],
    local: Mapping[str, Path],
    *,
    work_dir: Path,
    stores: AssemblyStores,
    engine_command: Sequence[str],
    run_engine: RunEngine,
) -> JobOutcome:
    """Run the engine on the local copies ``local`` (by storage name), then publish."""
    manifest_path = work_dir / "manifest.json"
    manifest = build_manifest(episode, media, local.__getitem__)
    manifest_path.write_text(json.dumps(manifest, indent=2))
    output = work_dir / f"episode.{episode.spec.output.format}"

    outcome = await run_engine(
        [*engine_command, "assemble", str(manifest_path), "-o", str(output), "--json"]
    )
    if outcome.shut_down:
        return INTERRUPTED
    if outcome.cancelled:
        return CANCELLED
    if outcome.cause is not None:
        return JobOutcome.failed(
            outcome.cause,
            _public_error(outcome, media, local, scratch=stores.scratch),
            detail=outcome.stderr_tail.strip() or outcome.error,
        )
    if not output.is_file():
        return JobOutcome.failed(
            FailureCause.ENGINE_ERROR, "the engine reported success but wrote no file"
        )

    done = outcome.done or {}
    published = await stores.audio.publish(
        episode.id,
        output,
        # A new name for every job: the audio it replaces stays whole until the row moves on.
        # And for every later attempt: a stale attempt's upload overwrites no one's audio.
        audio_name=f"{episode.id}-{job.id}{_attempt_suffix(job)}{output.suffix}",
        duration_s=float(done.get("duration_s") or 0.0),
        integrated_lufs=done.get("integrated_lufs"),
        true_peak_db=done.get("true_peak_db"),
        report=_read_report(done, job),
        attempt=job,
    )
    if published is None:
        # Or the attempt was replaced: then recording this failure changes nothing either.
        return JobOutcome.failed(FailureCause.INPUT_MISSING, "the episode was deleted")
    logger.info(
        "event=tasks.assemble.published episode_id=%s job_id=%s audio_name=%s size_bytes=%s",
        episode.id,
        job.id,
        published.audio_name,
        published.audio_size_bytes,
    )
    return SUCCEEDED


def _attempt_suffix(job: Job) -> str:
    return "" if job.attempts <= 1 else f"-{job.attempts}"


def _read_report(done: Mapping[str, Any], job: Job) -> AssemblyReport | None:
    """The engine's report on what it did, or None. A report that doesn't fit is logged and
    dropped: the audio is measured and good either way, so the job still succeeds."""
    try:
        return AssemblyReport.from_engine(done)
    except ValidationError as exc:
        logger.warning(
            "event=tasks.assemble.report_refused episode_id=%s job_id=%s problems=%d first=%r",
            job.episode_id,
            job.id,
            exc.error_count(),
            describe(exc.errors()[0]),
        )
        return None


def _public_error(
    outcome: EngineOutcome,
    media: Mapping[str, Media],
    local: Mapping[str, Path],
    *,
    scratch: Scratch,
) -> str:
    """The failure in words for the episode's owner: no server path (the store's folder,
    the scratch cache, the work folder), address or traceback."""
    if outcome.cause is not FailureCause.ENGINE_ERROR or outcome.returncode <= 0:
        return outcome.error  # fixed words: "timeout", "engine crashed (killed by …)", …
    names = {str(local[item.storage_name]): item.filename for item in media.values()}
    roots = {str(scratch.root), *(str(path.parent) for path in local.values())}
    return engine_error_message(outcome.stderr_tail, names=names, roots=sorted(roots))
