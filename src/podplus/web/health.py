"""Liveness and readiness: ``/healthz`` answers 200 only when the database does."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse

from podplus.storage.migrations import current_version
from podplus.web.exceptions import error_response
from podplus.web.requests import services


async def healthz(request: Request) -> JSONResponse:
    found = services(request)
    started = time.perf_counter()
    try:
        version = await current_version(found.database)
    except Exception as exc:  # any failure to answer means "not healthy"
        return error_response(503, "database_unavailable", f"The database does not answer: {exc}")
    return JSONResponse(
        {
            "status": "ok",
            "database": found.database.url.dialect,
            "schema_version": version,
            "database_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    )
