"""``/api/episodes``: describe an episode, list, change and delete them.

The audio is served by ``podplus.web.episode_audio``.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from podplus.engine.spec import EpisodeChanges, EpisodeInput, EpisodeSpec
from podplus.errors import Conflict, InvalidInput, NotFound
from podplus.ids import isoformat, new_id
from podplus.storage.episodes import Episode
from podplus.storage.jobs import Job, JobStatus
from podplus.web.jobs import job_out
from podplus.web.paging import page_query
from podplus.web.requests import current_user, json_body, services, validated
from podplus.web.schemas import EpisodeOut, EpisodeStatus, Page, json_response


def episode_status(episode: Episode, job: Job | None) -> EpisodeStatus:
    """draft → queued → assembling → ready | failed, read off the latest job and the audio."""
    if job is not None and job.status is JobStatus.QUEUED:
        return "queued"
    if job is not None and job.status is JobStatus.RUNNING:
        return "assembling"
    if episode.audio_name:
        return "ready"
    if job is not None and job.status is JobStatus.FAILED:
        return "failed"
    return "draft"


def episode_out(episode: Episode, job: Job | None) -> EpisodeOut:
    status = episode_status(episode, job)
    return EpisodeOut(
        **{name: getattr(episode.spec, name) for name in EpisodeSpec.model_fields},
        id=episode.id,
        title=episode.title,
        description=episode.description,
        status=status,
        job=job_out(job) if job else None,
        audio_url=f"/api/episodes/{episode.id}/audio" if status == "ready" else None,
        duration_s=episode.duration_s,
        integrated_lufs=episode.integrated_lufs,
        true_peak_db=episode.true_peak_db,
        size_bytes=episode.audio_size_bytes,
        created_at=isoformat(episode.created_at),
        updated_at=isoformat(episode.updated_at),
    )


async def create_episode(request: Request) -> Response:
    user = await current_user(request)
    described = await json_body(request, EpisodeInput)
    spec = described.spec
    await _check_media(request, spec, user.id)
    now = time.time()
    episode = Episode(
        id=new_id(),
        owner_id=user.id,
        title=described.title,
        description=described.description,
        spec=spec,
        audio_name=None,
        audio_size_bytes=None,
        duration_s=None,
        integrated_lufs=None,
        true_peak_db=None,
        created_at=now,
        updated_at=now,
    )
    await services(request).episodes.add(episode, media_ids=spec.media_ids())
    return json_response(episode_out(episode, None), status_code=201)


async def list_episodes(request: Request) -> Response:
    user = await current_user(request)
    found = services(request)
    query = page_query(request, list_name="episodes", owner_id=user.id)
    page = await found.episodes.owned_by(owner_id=user.id, limit=query.limit, after=query.after)
    latest = await found.jobs.latest_for_episodes([episode.id for episode in page.items])
    return json_response(
        Page[EpisodeOut](
            items=[episode_out(episode, latest.get(episode.id)) for episode in page.items],
            next=query.cursor(page.next),
        )
    )


async def get_episode(request: Request) -> Response:
    user = await current_user(request)
    episode = await _owned(request, user.id)
    return json_response(episode_out(episode, await _latest_job(request, episode)))


async def update_episode(request: Request) -> Response:
    """Change some fields; the ones sent replace the stored ones whole (objects too)."""
    user = await current_user(request)
    episode = await _owned(request, user.id)
    changes = (await json_body(request, EpisodeChanges)).model_dump(exclude_unset=True)
    found = services(request)
    if await found.jobs.active_for_episode(episode.id):
        raise Conflict("The episode is being assembled; cancel the job to change it.")
    current = {
        "title": episode.title,
        "description": episode.description,
        **episode.spec.model_dump(),
    }
    described = validated(EpisodeInput, {**current, **changes})
    spec = described.spec
    await _check_media(request, spec, user.id)
    await found.episodes.update(
        episode.id,
        title=described.title,
        description=described.description,
        spec=spec,
        media_ids=spec.media_ids(),
    )
    if episode.audio_name:
        # The row forgot the old audio in the update; now the file goes too.
        found.files.remove(found.files.episode_path(episode.audio_name))
    updated = await found.episodes.get(episode.id)
    assert updated is not None
    return json_response(episode_out(updated, await _latest_job(request, updated)))


async def delete_episode(request: Request) -> Response:
    user = await current_user(request)
    episode = await _owned(request, user.id)
    found = services(request)
    if await found.jobs.active_for_episode(episode.id):
        raise Conflict("The episode is being assembled; cancel the job first.")
    await found.episode_audio.delete(episode.id)
    return Response(status_code=204)


async def _owned(request: Request, owner_id: str) -> Episode:
    episode = await services(request).episodes.get(
        request.path_params["episode_id"], owner_id=owner_id
    )
    if episode is None:
        raise NotFound("No such episode.")
    return episode


async def _latest_job(request: Request, episode: Episode) -> Job | None:
    return (await services(request).jobs.latest_for_episodes([episode.id])).get(episode.id)


async def _check_media(request: Request, spec: EpisodeSpec, owner_id: str) -> None:
    refs = spec.media_refs()
    owned = await services(request).media.many(
        {media_id for _, media_id in refs}, owner_id=owner_id
    )
    for field, media_id in refs:
        item = owned.get(media_id)
        if item is None:
            raise InvalidInput(f"{field}: no media with id {media_id!r}.")
        wants_image = field == "cover_id"
        if wants_image and item.kind.is_audio:
            raise InvalidInput(f"{field}: must be an image uploaded with kind=cover.")
        if not wants_image and not item.kind.is_audio:
            raise InvalidInput(f"{field}: must be audio, not a cover image.")
