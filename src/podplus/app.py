"""The ASGI application: ``create_app(settings)`` wires routes, errors and the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from podplus.metrics import Metrics, MetricsMiddleware
from podplus.services import open_services
from podplus.settings import Settings
from podplus.web.exceptions import EXCEPTION_HANDLERS
from podplus.web.routes import api_routes


def create_app(settings: Settings) -> Starlette:
    settings = settings.with_secret_key()

    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await open_services(settings, metrics=metrics)
        app.state.services = services
        try:
            yield
        finally:
            await services.close()

    return Starlette(
        routes=api_routes(),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        lifespan=lifespan,
    )
