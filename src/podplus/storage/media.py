"""Uploaded media: one row per file, always scoped to its owner."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from databases import Database

from podplus.storage.schema import episode_media, jobs, media


class MediaKind(StrEnum):
    CONTENT = "content"
    INTRO = "intro"
    OUTRO = "outro"
    MUSIC = "music"
    COVER = "cover"

    @property
    def is_audio(self) -> bool:
        return self is not MediaKind.COVER


@dataclass(frozen=True)
class Media:
    id: str
    owner_id: str
    kind: MediaKind
    filename: str
    storage_name: str
    size_bytes: int
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    codec: str | None
    loudness_lufs: float | None
    created_at: float


def _media(row: object) -> Media:
    mapping = dict(row._mapping)  # type: ignore[attr-defined]
    mapping["kind"] = MediaKind(mapping["kind"])
    return Media(**mapping)


class MediaStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, item: Media) -> None:
        values = {**item.__dict__, "kind": item.kind.value}
        await self._db.execute(media.insert().values(**values))

    async def get(self, media_id: str, *, owner_id: str) -> Media | None:
        row = await self._db.fetch_one(
            media.select().where(media.c.id == media_id, media.c.owner_id == owner_id)
        )
        return None if row is None else _media(row)

    async def many(self, media_ids: set[str], *, owner_id: str) -> dict[str, Media]:
        if not media_ids:
            return {}
        rows = await self._db.fetch_all(
            media.select().where(media.c.id.in_(media_ids), media.c.owner_id == owner_id)
        )
        return {item.id: item for item in map(_media, rows)}

    async def owned_by(self, *, owner_id: str, limit: int = 500) -> list[Media]:
        rows = await self._db.fetch_all(
            media.select()
            .where(media.c.owner_id == owner_id)
            .order_by(media.c.created_at.desc())
            .limit(limit)
        )
        return [_media(row) for row in rows]

    async def in_active_assembly(self, media_id: str) -> bool:
        """True while an episode that uses this file has a queued or running job."""
        query = (
            sa.select(jobs.c.id)
            .select_from(jobs.join(episode_media, episode_media.c.episode_id == jobs.c.episode_id))
            .where(episode_media.c.media_id == media_id, jobs.c.status.in_(("queued", "running")))
            .limit(1)
        )
        return await self._db.fetch_val(query) is not None

    async def delete(self, media_id: str) -> None:
        async with self._db.transaction():
            await self._db.execute(
                episode_media.delete().where(episode_media.c.media_id == media_id)
            )
            await self._db.execute(media.delete().where(media.c.id == media_id))
