"""A production: new media, the episode made of them and its assembly job, stored at once.

``POST /api/productions`` is all or nothing: either every row is written or none is. The
stores' own statements (each quota check included) run inside one transaction, so a
refusal by any of them (the storage quota at the third file, the active-jobs quota)
rolls back the media and the episode written before it.
"""

from __future__ import annotations

from collections.abc import Sequence

from databases import Database

from podplus.storage.episodes import Episode, EpisodeStore
from podplus.storage.jobs import Job, JobStore
from podplus.storage.media import Media, MediaQuota, MediaStore


async def add_production(
    database: Database,
    *,
    media: MediaStore,
    episodes: EpisodeStore,
    jobs: JobStore,
    items: Sequence[Media],
    quota: MediaQuota,
    episode: Episode,
    max_active_jobs: int,
) -> Job:
    """Add ``items`` (each within ``quota``), then ``episode``, then queue its assembly
    (within ``max_active_jobs``); any refusal (``MediaQuotaExceeded``,
    ``JobQuotaExceeded``) leaves none of them stored. The files are the caller's."""
    async with database.transaction():
        for item in items:
            await media.add_within(item, quota)
        await episodes.add(episode, media_ids=episode.spec.media_ids())
        return await jobs.enqueue(
            owner_id=episode.owner_id, episode_id=episode.id, max_active=max_active_jobs
        )
