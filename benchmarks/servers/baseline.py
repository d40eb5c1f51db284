"""What the two baseline servers share: podplus's own ``/me`` and a small job table.

``/me`` is built from podplus's pieces (``TokenCodec``, ``UserStore`` on an SQLite file
opened by ``open_database``), so it does the same work as podplus's and follows any
change made there; the baselines differ from podplus only in where the audio work runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from podplus.errors import Unauthorized
from podplus.security.tokens import TokenCodec
from podplus.storage.database import connect, open_database
from podplus.storage.migrations import migrate
from podplus.storage.users import UserStore
from podplus.web.requests import bearer_token
from podplus.web.users import user_out

SECRET_KEY = "baseline-secret-key-long-enough-for-hs256-signing"
BENCH_EMAIL = "bench@example.com"


@dataclass
class BaselineJob:
    id: str
    started_at: float
    progress: Callable[[], float]
    is_running: Callable[[], bool]
    finished_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        running = self.is_running()
        if not running and self.finished_at is None:
            self.finished_at = time.time()
        return {
            "id": self.id,
            "status": "running" if running else "finished",
            "progress": round(self.progress(), 4),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass(frozen=True)
class JobRequest:
    segment_paths: list[Path]
    bed_path: Path
    out_path: Path


@dataclass
class BaselineState:
    users: UserStore
    tokens: TokenCodec
    user_id: str
    jobs: dict[str, BaselineJob] = field(default_factory=dict)


Starter = Callable[[str, JobRequest], BaselineJob]


def create_baseline_app(*, data_dir: Path, start_job: Starter) -> Starlette:
    """A Starlette app with ``/me``, ``/token``, ``POST /jobs`` and ``GET /jobs/{id}``;
    ``start_job`` decides where a job's work runs."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = open_database(f"sqlite:///{data_dir / 'baseline.db'}")
        await connect(database)
        await migrate(database)
        users = UserStore(database)
        user = await users.by_email(BENCH_EMAIL) or await users.create(
            email=BENCH_EMAIL, name="Bench", password_hash="not used by the baselines"
        )
        app.state.baseline = BaselineState(
            users=users, tokens=TokenCodec(secret_key=SECRET_KEY, ttl_s=86400), user_id=user.id
        )
        try:
            yield
        finally:
            await database.disconnect()

    def state(request: Request) -> BaselineState:
        return request.app.state.baseline  # type: ignore[no-any-return]

    async def me(request: Request) -> JSONResponse:
        found = state(request)
        try:
            user_id = found.tokens.subject(bearer_token(request))
        except Unauthorized as exc:
            return JSONResponse({"detail": exc.message}, status_code=401)
        user = await found.users.by_id(user_id)
        if user is None:
            return JSONResponse({"detail": "no such user"}, status_code=401)
        return JSONResponse(user_out(user).model_dump())

    async def token(request: Request) -> JSONResponse:
        found = state(request)
        return JSONResponse({"access_token": found.tokens.issue(found.user_id).access_token})

    async def create_job(request: Request) -> JSONResponse:
        body = await request.json()
        job_request = JobRequest(
            segment_paths=[Path(p) for p in body["segments"]],
            bed_path=Path(body["music_bed"]),
            out_path=data_dir / f"{uuid.uuid4().hex}.wav",
        )
        job_id = uuid.uuid4().hex
        job = start_job(job_id, job_request)
        state(request).jobs[job_id] = job
        return JSONResponse({"job_id": job_id, "status": "running"}, status_code=202)

    async def get_job(request: Request) -> JSONResponse:
        job = state(request).jobs.get(request.path_params["job_id"])
        if job is None:
            return JSONResponse({"detail": "no such job"}, status_code=404)
        return JSONResponse(job.as_json())

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/me", me),
            Route("/token", token, methods=["POST"]),
            Route("/jobs", create_job, methods=["POST"]),
            Route("/jobs/{job_id}", get_job),
        ],
        lifespan=lifespan,
    )
