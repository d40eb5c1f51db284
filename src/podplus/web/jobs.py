"""``/api/jobs`` and ``/api/episodes/{id}/assemble``: queue, watch, cancel."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from podplus.errors import Conflict, NotFound
from podplus.ids import isoformat
from podplus.storage.jobs import Job
from podplus.web.paging import page_query
from podplus.web.requests import current_user, services
from podplus.web.schemas import JobAccepted, JobOut, Page, json_response


def job_out(job: Job) -> JobOut:
    return JobOut(
        id=job.id,
        episode_id=job.episode_id,
        status=job.status,
        progress=round(min(max(job.progress, 0.0), 1.0), 4),
        phase=job.phase,
        error=job.error,
        attempts=job.attempts,
        created_at=isoformat(job.created_at),
        started_at=isoformat(job.started_at),
        finished_at=isoformat(job.finished_at),
    )


async def assemble(request: Request) -> Response:
    user = await current_user(request)
    found = services(request)
    episode = await found.episodes.get(request.path_params["episode_id"], owner_id=user.id)
    if episode is None:
        raise NotFound("No such episode.")
    job = await found.queue.submit(
        owner_id=user.id,
        episode_id=episode.id,
        max_active=found.settings.max_active_jobs_per_user,
    )
    return json_response(
        JobAccepted(job_id=job.id, status=job.status),
        status_code=202,
        headers={"Location": f"/api/jobs/{job.id}"},
    )


async def list_jobs(request: Request) -> Response:
    user = await current_user(request)
    query = page_query(request, list_name="jobs", owner_id=user.id)
    page = await services(request).jobs.owned_by(
        owner_id=user.id, limit=query.limit, after=query.after
    )
    return json_response(
        Page[JobOut](items=[job_out(job) for job in page.items], next=query.cursor(page.next))
    )


async def get_job(request: Request) -> Response:
    user = await current_user(request)
    return json_response(job_out(await _owned(request, user.id)))


async def cancel_job(request: Request) -> Response:
    user = await current_user(request)
    job = await _owned(request, user.id)
    found = services(request)
    if not job.status.is_active:
        raise Conflict(f"The job has already finished ({job.status.value}).")
    await found.queue.cancel(job)
    now = await found.jobs.get(job.id)
    assert now is not None
    return json_response(job_out(now), status_code=202)


async def _owned(request: Request, owner_id: str) -> Job:
    job = await services(request).jobs.get(request.path_params["job_id"], owner_id=owner_id)
    if job is None:
        raise NotFound("No such job.")
    return job
