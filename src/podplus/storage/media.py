"""Uploaded media: one row per file, always scoped to its owner."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from databases import Database

from podplus.errors import MediaQuotaExceeded
from podplus.storage.pages import PageOf, Position, newest_first
from podplus.storage.schema import episode_media, jobs, media, users


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


@dataclass(frozen=True)
class MediaUsage:
    """What one owner's uploads add up to."""

    files: int
    size_bytes: int
    duration_s: float


@dataclass(frozen=True, kw_only=True)
class MediaQuota:
    """How much one owner may keep: bytes, files and seconds of audio.

    The decisions are pure (``check_room``, ``check``); ``MediaStore.add_within`` applies
    ``check`` atomically, so concurrent uploads, in any number of processes, can't pass it
    together.
    """

    storage_bytes: int
    files: int
    duration_s: float

    def check_room(self, usage: MediaUsage) -> None:
        """Refuse before an upload is read if the owner has no file or byte left at all."""
        if usage.files >= self.files:
            raise self._files_error(usage)
        if usage.size_bytes >= self.storage_bytes:
            raise self.storage_error(usage)

    def check(self, usage: MediaUsage, *, size_bytes: int, duration_s: float) -> None:
        """Raise ``MediaQuotaExceeded`` if one more file this big would pass a quota.

        >>> MediaQuota(storage_bytes=10, files=2, duration_s=60).check(
        ...     MediaUsage(files=1, size_bytes=4, duration_s=0), size_bytes=6, duration_s=1)
        """
        if usage.files + 1 > self.files:
            raise self._files_error(usage)
        if usage.size_bytes + size_bytes > self.storage_bytes:
            raise self.storage_error(usage, size_bytes)
        if usage.duration_s + duration_s > self.duration_s:
            raise MediaQuotaExceeded(
                f"Over your media duration quota ({duration_text(self.duration_s)}): you have "
                f"{duration_text(usage.duration_s)} and this file is {duration_text(duration_s)}; "
                "delete some media first.",
                quota="media_duration_s",
                limit=self.duration_s,
            )

    def storage_error(self, usage: MediaUsage, size_bytes: int | None = None) -> MediaQuotaExceeded:
        """The storage quota's refusal; ``size_bytes`` when the file's size is known."""
        this_file = "this file" if size_bytes is None else f"this file ({size_text(size_bytes)})"
        return MediaQuotaExceeded(
            f"Over your storage quota ({size_text(self.storage_bytes)}): you use "
            f"{size_text(usage.size_bytes)}, and {this_file} doesn't fit; "
            "delete some media first.",
            quota="storage_bytes",
            limit=self.storage_bytes,
        )

    def _files_error(self, usage: MediaUsage) -> MediaQuotaExceeded:
        return MediaQuotaExceeded(
            f"You have {usage.files} files, as many as your media files quota ({self.files}) "
            "allows; delete some first.",
            quota="media_files",
            limit=self.files,
        )


def size_text(size_bytes: int) -> str:
    """>>> size_text(10 * 1024**3), size_text(1536 * 1024), size_text(900)
    ('10 GiB', '1.5 MiB', '900 bytes')
    """
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size_bytes} bytes"


def duration_text(seconds: float) -> str:
    """>>> duration_text(360000), duration_text(5400), duration_text(150), duration_text(2.5)
    ('100 h', '1.5 h', '2.5 min', '2.5 s')
    """
    for unit, scale in (("h", 3600), ("min", 60)):
        if seconds >= scale:
            return f"{seconds / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{seconds:.1f}".removesuffix(".0") + " s"


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

    async def usage(self, *, owner_id: str) -> MediaUsage:
        row = await self._db.fetch_one(_usage_query(owner_id))
        assert row is not None  # an aggregate always has a row
        files, size_bytes, duration_s = row[0], row[1], row[2]
        return MediaUsage(
            files=int(files), size_bytes=int(size_bytes), duration_s=float(duration_s)
        )

    async def add_within(self, item: Media, quota: MediaQuota) -> None:
        """Add ``item`` unless it would take its owner past ``quota`` (then raise
        ``MediaQuotaExceeded`` and add nothing).

        The quota is checked by the INSERT itself (``INSERT … SELECT … WHERE`` the sums
        leave room): SQLite runs that statement under its one write lock, and on
        PostgreSQL the owner's row is locked first, because under READ COMMITTED two
        such inserts would each count without the other.
        """
        values = {**item.__dict__, "kind": item.kind.value}
        owned = media.c.owner_id == item.owner_id
        room = sa.and_(
            sa.select(sa.func.count()).where(owned).scalar_subquery() + 1 <= quota.files,
            sa.select(sa.func.coalesce(sa.func.sum(media.c.size_bytes), 0))
            .where(owned)
            .scalar_subquery()
            + item.size_bytes
            <= quota.storage_bytes,
            sa.select(sa.func.coalesce(sa.func.sum(media.c.duration_s), 0.0))
            .where(owned)
            .scalar_subquery()
            + (item.duration_s or 0.0)
            <= quota.duration_s,
        )
        row = sa.select(
            *(sa.cast(sa.literal(values[c.name], c.type), c.type) for c in media.columns)
        ).where(room)
        async with self._db.transaction():
            if self._db.url.dialect == "postgresql":
                await self._db.execute(
                    sa.select(users.c.id).where(users.c.id == item.owner_id).with_for_update()
                )
            await self._db.execute(media.insert().from_select(list(media.columns), row))
            if await self._db.fetch_val(sa.select(media.c.id).where(media.c.id == item.id)):
                return
            # Refused: say which quota, from the sums as this transaction sees them.
            usage = await self.usage(owner_id=item.owner_id)
            quota.check(usage, size_bytes=item.size_bytes, duration_s=item.duration_s or 0.0)
            # Room was freed between the two statements (a delete); we still hold the lock.
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

    async def owned_by(
        self, *, owner_id: str, limit: int, after: Position | None = None
    ) -> PageOf[Media]:
        """One page of the owner's uploads, newest first (see ``podplus.storage.pages``)."""
        return await newest_first(
            self._db,
            media,
            where=[media.c.owner_id == owner_id],
            limit=limit,
            after=after,
            convert=_media,
        )

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


def _usage_query(owner_id: str) -> sa.Select[tuple[int, int, float]]:
    return sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(media.c.size_bytes), 0),
        sa.func.coalesce(sa.func.sum(media.c.duration_s), 0.0),
    ).where(media.c.owner_id == owner_id)
