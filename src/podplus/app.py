"""The ASGI application: ``create_app(settings)`` wires routes, errors and the lifespan."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version

from starlette.applications import Starlette
from starlette.middleware import Middleware

from podplus.metrics import Metrics, MetricsMiddleware
from podplus.security.signing import AudioLinks
from podplus.security.targets import Resolver, system_resolver
from podplus.services import open_services
from podplus.settings import Settings
from podplus.web.exceptions import EXCEPTION_HANDLERS
from podplus.web.headers import SecurityHeadersMiddleware
from podplus.web.openapi import build_documents
from podplus.web.pages import WebApp
from podplus.web.paging import Cursors
from podplus.web.routes import app_routes, operations


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    resolver: Resolver = system_resolver,
) -> Starlette:
    """The app for ``settings``; ``clock`` tells the time where something is scheduled
    (a test moves it instead of waiting), ``resolver`` the addresses of webhook hosts (a
    test passes its own DNS)."""
    settings = settings.with_secret_key()

    metrics = Metrics()
    web = WebApp()
    table = operations(web)
    documents = build_documents(table, version=version("podplus"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await open_services(settings, metrics=metrics, clock=clock, resolver=resolver)
        app.state.services = services
        app.state.documents = documents
        try:
            yield
        finally:
            await services.close()

    app = Starlette(
        routes=app_routes(table, web),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(SecurityHeadersMiddleware),
        ],
        lifespan=lifespan,
    )
    # Signed strings, each kind under its own key derived from the secret key.
    app.state.cursors = Cursors(secret_key=settings.secret_key)
    app.state.audio_links = AudioLinks(
        secret_key=settings.secret_key, ttl_s=settings.audio_link_ttl_s
    )
    return app
