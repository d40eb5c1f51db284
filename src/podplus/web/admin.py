"""Operations: ``/metrics`` for Prometheus and ``/api/admin/processes`` for people."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from podplus.errors import Forbidden
from podplus.ids import isoformat
from podplus.jobs.processes import EngineStats, engine_stats
from podplus.services import Services
from podplus.web.requests import current_user, services
from podplus.web.schemas import EngineProcess, Page, json_response

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def live_engines(found: Services) -> list[EngineStats]:
    records = await found.processes.live_on_host(found.identity.host)
    return await asyncio.to_thread(engine_stats, records)


async def metrics(request: Request) -> Response:
    found = services(request)
    found.metrics.observe_jobs(await found.jobs.count_by_status())
    found.metrics.observe_engines(await live_engines(found))
    return Response(found.metrics.exposition(), media_type=PROMETHEUS_CONTENT_TYPE)


async def processes(request: Request) -> Response:
    # The flag is read from the account's row on every request, never from the token:
    # `podplus user admin EMAIL --revoke` takes effect on every server's next request,
    # tokens or not.
    user = await current_user(request)
    if not user.is_admin:
        raise Forbidden("Only an admin may see the engine processes.")
    found = services(request)
    items = []
    for stats in await live_engines(found):
        job = await found.jobs.get(stats.job_id)
        items.append(
            EngineProcess(
                pid=stats.pid,
                job_id=stats.job_id,
                episode_id=job.episode_id if job else None,
                worker_id=stats.worker_id,
                started_at=isoformat(stats.started_at),
                rss_bytes=stats.rss_bytes,
                cpu_percent=stats.cpu_percent,
            )
        )
    return json_response(Page[EngineProcess](items=items))
