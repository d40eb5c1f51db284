"""Episodes: a title, a description of the parts (``spec``), and the audio once assembled."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import sqlalchemy as sa
from databases import Database
from pydantic import ValidationError

from podplus.engine.spec import EpisodeSpec
from podplus.storage.files import FileStore
from podplus.storage.jobs import Job, still_running
from podplus.storage.local_objects import LocalObjects
from podplus.storage.objects import ObjectStore, episode_key
from podplus.storage.pages import PageOf, Position, newest_first
from podplus.storage.reports import AssemblyReport
from podplus.storage.schema import (
    download_counts,
    download_windows,
    episode_media,
    episodes,
    jobs,
    processes,
    publications,
    shows,
)
from podplus.storage.shows import feed_changed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Episode:
    id: str
    owner_id: str
    title: str
    description: str
    spec: EpisodeSpec
    audio_name: str | None
    audio_size_bytes: int | None
    duration_s: float | None
    integrated_lufs: float | None
    true_peak_db: float | None
    created_at: float
    updated_at: float
    # The show it belongs to, and its feed GUID once it has been published.
    show_id: str | None = None
    guid: str | None = None
    # What the engine did to make the audio; None without audio (or a report).
    report: AssemblyReport | None = None


@dataclass(frozen=True)
class EpisodeAudio:
    audio_name: str
    audio_size_bytes: int
    duration_s: float
    integrated_lufs: float | None
    true_peak_db: float | None
    report: AssemblyReport | None = None


def _episode(row: object) -> Episode:
    mapping = dict(row._mapping)  # type: ignore[attr-defined]
    # Validated when written; reading trusts it (a row is never half a spec).
    mapping["spec"] = EpisodeSpec.model_validate_json(mapping["spec"], strict=False)
    if mapping.get("report") is not None:
        mapping["report"] = _report(mapping["id"], mapping["report"])
    return Episode(**mapping)


def _report(episode_id: str, text: str) -> AssemblyReport | None:
    """The stored report, or None (logged) for one this release can't read: a report is
    an account of the audio, never a reason to fail to show the episode."""
    try:
        return AssemblyReport.model_validate_json(text)
    except ValidationError as exc:
        logger.warning(
            "event=episodes.report_unreadable episode_id=%s errors=%d",
            episode_id,
            exc.error_count(),
        )
        return None


class EpisodeStore:
    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        # For the feed's change time (``shows.feed_changed_at``), as publishing tells it.
        self._clock = clock

    async def add(self, episode: Episode, *, media_ids: set[str]) -> None:
        values = {**episode.__dict__, "spec": episode.spec.model_dump_json()}
        async with self._db.transaction():
            await self._db.execute(episodes.insert().values(**values))
            await self._link_media(episode.id, media_ids)

    async def update(
        self,
        episode_id: str,
        *,
        title: str,
        description: str,
        spec: EpisodeSpec,
        media_ids: set[str],
        show_id: str | None,
    ) -> None:
        """Replace the description; the old audio no longer matches it, so it is forgotten.
        (A published episode's public audio is a copy of its own: see ``storage.publishing``.)"""
        async with self._db.transaction():
            await self._db.execute(
                episodes.update()
                .where(episodes.c.id == episode_id)
                .values(
                    title=title,
                    description=description,
                    spec=spec.model_dump_json(),
                    show_id=show_id,
                    audio_name=None,
                    audio_size_bytes=None,
                    duration_s=None,
                    integrated_lufs=None,
                    true_peak_db=None,
                    report=None,
                    updated_at=time.time(),
                )
            )
            await self._db.execute(
                episode_media.delete().where(episode_media.c.episode_id == episode_id)
            )
            await self._link_media(episode_id, media_ids)
            # A published episode's title and notes are in its show's feed.
            published_in = sa.select(publications.c.show_id).where(
                publications.c.episode_id == episode_id
            )
            await self._db.execute(feed_changed(shows.c.id.in_(published_in), now=self._clock()))

    async def set_audio(
        self, episode_id: str, audio: EpisodeAudio | None, *, attempt: Job | None = None
    ) -> bool:
        """Point the row at ``audio``, or at none; False when there is no such row, or,
        with ``attempt``, when the job is no longer running that very attempt (checked,
        and its row locked, in the same transaction). Files: see ``EpisodeAudioFiles``."""
        if audio is None:
            values: dict[str, object] = {field.name: None for field in fields(EpisodeAudio)}
        else:
            values = dict(audio.__dict__)
            values["report"] = None if audio.report is None else audio.report.model_dump_json()
        async with self._db.transaction():
            if attempt is not None:
                # Locked until commit: a recovery of the job waits for this audio, or this
                # audio finds the attempt replaced and is refused.
                current = await self._db.fetch_val(
                    sa.select(jobs.c.id)
                    .where(jobs.c.id == attempt.id, still_running(attempt))
                    .with_for_update()
                )
                if current is None:
                    return False
            updated = await self._db.fetch_val(
                episodes.update()
                .where(episodes.c.id == episode_id)
                .values(**values, updated_at=time.time())
                .returning(episodes.c.id)
            )
        return updated is not None

    async def get(self, episode_id: str, *, owner_id: str | None = None) -> Episode | None:
        query = episodes.select().where(episodes.c.id == episode_id)
        if owner_id is not None:
            query = query.where(episodes.c.owner_id == owner_id)
        row = await self._db.fetch_one(query)
        return None if row is None else _episode(row)

    async def owned_by(
        self, *, owner_id: str, limit: int, after: Position | None = None
    ) -> PageOf[Episode]:
        """One page of the owner's episodes, newest first (see ``podplus.storage.pages``)."""
        return await newest_first(
            self._db,
            episodes,
            where=[episodes.c.owner_id == owner_id],
            limit=limit,
            after=after,
            convert=_episode,
        )

    async def delete(self, episode_id: str) -> None:
        """Delete the episode with its job history, its publication and its download counts
        (the caller checks nothing is running, and removes the public file after)."""
        episode_jobs = sa.select(jobs.c.id).where(jobs.c.episode_id == episode_id)
        async with self._db.transaction():
            for table in (publications, download_counts, download_windows):
                await self._db.execute(table.delete().where(table.c.episode_id == episode_id))
            await self._db.execute(processes.delete().where(processes.c.job_id.in_(episode_jobs)))
            await self._db.execute(jobs.delete().where(jobs.c.episode_id == episode_id))
            await self._db.execute(
                episode_media.delete().where(episode_media.c.episode_id == episode_id)
            )
            await self._db.execute(episodes.delete().where(episodes.c.id == episode_id))

    async def _link_media(self, episode_id: str, media_ids: set[str]) -> None:
        if media_ids:
            await self._db.execute_many(
                episode_media.insert(),
                [{"episode_id": episode_id, "media_id": media_id} for media_id in media_ids],
            )


class EpisodeAudioFiles:
    """An episode's audio file and the row that names it, changed together and in order.

    A new file is in place before the row names it, and an old one is removed only after
    the row stopped naming it: a crash in between leaves at worst a file nobody names,
    never a row naming a file that is gone.
    """

    def __init__(
        self, episodes: EpisodeStore, files: FileStore, objects: ObjectStore | None = None
    ) -> None:
        self._episodes = episodes
        self._files = files
        # Where the audio is kept: the media folder itself unless a store is given.
        self._objects = objects or LocalObjects(files.root)

    async def publish(
        self,
        episode_id: str,
        rendered: Path,
        *,
        audio_name: str,
        duration_s: float,
        integrated_lufs: float | None,
        true_peak_db: float | None,
        report: AssemblyReport | None = None,
        attempt: Job | None = None,
    ) -> EpisodeAudio | None:
        """Move ``rendered`` into place as the episode's audio, then remove the file it replaces.
        The engine's ``report`` on it is written in the same row change (and goes with it).

        Returns None, publishing nothing, when the episode no longer exists, or when
        ``attempt`` (the job attempt that rendered it) is no longer the job's current one
        (its worker was given up for dead and the job runs elsewhere).
        """
        before = await self._episodes.get(episode_id)
        if before is None:
            return None
        key = episode_key(audio_name)
        stored = await self._objects.move_file_in(key, rendered)
        audio = EpisodeAudio(
            audio_name=audio_name,
            audio_size_bytes=stored.size_bytes,
            duration_s=duration_s,
            integrated_lufs=integrated_lufs,
            true_peak_db=true_peak_db,
            report=report,
        )
        if not await self._episodes.set_audio(episode_id, audio, attempt=attempt):
            # Deleted (or the attempt replaced) while the file moved into place: nothing
            # names the file, so it goes.
            await self._objects.delete(key)
            return None
        if before.audio_name and before.audio_name != audio_name:
            await self._objects.delete(episode_key(before.audio_name))
        return audio

    async def forget(self, episode_id: str) -> None:
        """The episode has no audio any more: the row first, then the file."""
        before = await self._episodes.get(episode_id)
        if before is None or before.audio_name is None:
            return
        await self._episodes.set_audio(episode_id, None)
        await self._objects.delete(episode_key(before.audio_name))

    async def delete(self, episode_id: str) -> None:
        """Delete the episode (rows, as ``EpisodeStore.delete``), then its audio file."""
        before = await self._episodes.get(episode_id)
        if before is None:
            return
        await self._episodes.delete(episode_id)
        if before.audio_name:
            await self._objects.delete(episode_key(before.audio_name))
