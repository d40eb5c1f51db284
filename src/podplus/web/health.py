"""Liveness and readiness: ``/healthz`` answers 200 only when the database does."""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.responses import Response

from podplus.storage.migrations import current_version
from podplus.web.exceptions import error_response
from podplus.web.requests import services
from podplus.web.schemas import Health, json_response

logger = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    found = services(request)
    started = time.perf_counter()
    try:
        version = await current_version(found.database)
    except Exception as exc:  # any failure to answer means "not healthy"
        logger.warning("event=health.database_unavailable error=%r", exc)
        return error_response(503, "database_unavailable", "The database does not answer.")
    return json_response(
        Health(
            status="ok",
            database=found.database.url.dialect,
            schema_version=version,
            database_ms=round((time.perf_counter() - started) * 1000, 2),
        )
    )
