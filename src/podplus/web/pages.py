"""The web app: ``/``, ``/studio`` and ``/docs`` as HTML pages, ``/static/...`` for their CSS
and JS.

There is no build step; the files under ``static/`` are exactly what the browser runs.
The login gate lives in the browser because the token does (``localStorage``): every
page is public, and ``/studio`` opens the login modal itself when it has no valid token.
``/docs`` is the API reference, drawn in the browser from ``/openapi.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"

# File names don't change between releases (no fingerprinting without a build step), so the
# browser must revalidate before reusing a copy; the ETag makes that a cheap 304.
CACHE_CONTROL = "no-cache"

# Everything is same-origin: no CDN, no inline script or style. The player's <audio> reads
# the episode from a signed /media/... link, hence media-src 'self'.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Cache-Control": CACHE_CONTROL,
    "X-Content-Type-Options": "nosniff",
    # A signed audio link is a credential for one file while it lasts; never hand it on.
    "Referrer-Policy": "no-referrer",
}
PAGE_HEADERS = {**HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY}


class AppFiles(StaticFiles):
    """``StaticFiles`` that adds podplus's cache and security headers, on 304s too."""

    def __init__(self, *, directory: Path, headers: dict[str, str]) -> None:
        super().__init__(directory=directory)
        self.headers = headers

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = FileResponse(
            full_path, status_code=status_code, stat_result=stat_result, headers=self.headers
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


class WebApp:
    """The web app's pages, as endpoints the route table lists like any other, and its files."""

    def __init__(self) -> None:
        self._assets = AppFiles(directory=STATIC_DIR, headers=HEADERS)
        self._pages = AppFiles(directory=STATIC_DIR / "pages", headers=PAGE_HEADERS)

    async def landing(self, request: Request) -> Response:
        """What podplus does, and the way in."""
        return await self._pages.get_response("landing.html", request.scope)

    async def studio(self, request: Request) -> Response:
        """Upload, describe, assemble, listen: the creator's workspace."""
        return await self._pages.get_response("studio.html", request.scope)

    async def docs(self, request: Request) -> Response:
        """This API's reference, rendered from ``/openapi.json``."""
        return await self._pages.get_response("docs.html", request.scope)

    def static_files(self) -> Mount:
        """``/static/...``: the pages' CSS and JavaScript (not an API, so not documented)."""
        return Mount("/static", app=self._assets, name="static")
