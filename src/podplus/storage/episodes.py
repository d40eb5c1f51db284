"""Episodes: a title, a description of the parts (``spec``), and the audio once assembled."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases import Database

from podplus.storage.schema import episode_media, episodes, jobs, processes


@dataclass(frozen=True)
class Episode:
    id: str
    owner_id: str
    title: str
    description: str
    spec: dict[str, Any]
    audio_name: str | None
    audio_size_bytes: int | None
    duration_s: float | None
    integrated_lufs: float | None
    true_peak_db: float | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class EpisodeAudio:
    audio_name: str
    audio_size_bytes: int
    duration_s: float
    integrated_lufs: float | None
    true_peak_db: float | None


def _episode(row: object) -> Episode:
    mapping = dict(row._mapping)  # type: ignore[attr-defined]
    mapping["spec"] = json.loads(mapping["spec"])
    return Episode(**mapping)


class EpisodeStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, episode: Episode, *, media_ids: set[str]) -> None:
        values = {**episode.__dict__, "spec": json.dumps(episode.spec)}
        async with self._db.transaction():
            await self._db.execute(episodes.insert().values(**values))
            await self._link_media(episode.id, media_ids)

    async def update(
        self,
        episode_id: str,
        *,
        title: str,
        description: str,
        spec: dict[str, Any],
        media_ids: set[str],
    ) -> None:
        """Replace the description; the old audio no longer matches it, so it is forgotten."""
        async with self._db.transaction():
            await self._db.execute(
                episodes.update()
                .where(episodes.c.id == episode_id)
                .values(
                    title=title,
                    description=description,
                    spec=json.dumps(spec),
                    audio_name=None,
                    audio_size_bytes=None,
                    duration_s=None,
                    integrated_lufs=None,
                    true_peak_db=None,
                    updated_at=time.time(),
                )
            )
            await self._db.execute(
                episode_media.delete().where(episode_media.c.episode_id == episode_id)
            )
            await self._link_media(episode_id, media_ids)

    async def set_audio(self, episode_id: str, audio: EpisodeAudio) -> None:
        await self._db.execute(
            episodes.update()
            .where(episodes.c.id == episode_id)
            .values(**audio.__dict__, updated_at=time.time())
        )

    async def get(self, episode_id: str, *, owner_id: str | None = None) -> Episode | None:
        query = episodes.select().where(episodes.c.id == episode_id)
        if owner_id is not None:
            query = query.where(episodes.c.owner_id == owner_id)
        row = await self._db.fetch_one(query)
        return None if row is None else _episode(row)

    async def owned_by(self, *, owner_id: str, limit: int = 500) -> list[Episode]:
        rows = await self._db.fetch_all(
            episodes.select()
            .where(episodes.c.owner_id == owner_id)
            .order_by(episodes.c.created_at.desc())
            .limit(limit)
        )
        return [_episode(row) for row in rows]

    async def delete(self, episode_id: str) -> None:
        """Delete the episode with its job history (the caller checks nothing is running)."""
        episode_jobs = sa.select(jobs.c.id).where(jobs.c.episode_id == episode_id)
        async with self._db.transaction():
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
