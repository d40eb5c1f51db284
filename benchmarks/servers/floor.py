"""The floor: a Starlette endpoint that returns a constant, served like podplus.

Whatever latency this shows under wrk is what uvicorn, h11 and asyncio cost on this
machine; no podplus endpoint can be faster.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from servers.serving import serve

# About the size of a /api/users/me answer, so both send the same bytes.
CONSTANT = {
    "id": "0" * 32,
    "email": "floor@example.com",
    "name": "Floor",
    "created_at": "2024-01-01T00:00:00Z",
}


async def constant(request: Request) -> JSONResponse:
    return JSONResponse(CONSTANT)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def create_app(data_dir: Path) -> Starlette:
    return Starlette(routes=[Route("/me", constant), Route("/healthz", healthz)])


if __name__ == "__main__":
    serve(create_app, description=__doc__ or "")
