"""The web app: ``/`` and ``/studio`` as HTML pages, ``/static/...`` for their CSS and JS.

There is no build step; the files under ``static/`` are exactly what the browser runs.
The login gate lives in the browser because the token does (``localStorage``): both
pages are public, and ``/studio`` opens the login modal itself when it has no valid token.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"

# File names don't change between releases (no fingerprinting without a build step), so the
# browser must revalidate before reusing a copy; the ETag makes that a cheap 304.
CACHE_CONTROL = "no-cache"

# Everything is same-origin: no CDN, no inline script or style. The player's <audio> reads
# the episode from /api/..., hence media-src 'self'.
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
    # The player's URL carries ?access_token=; never hand it to another site.
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


def page_routes() -> list[BaseRoute]:
    """The routes of the web app, to sit beside the API's in the app's route table."""
    assets = AppFiles(directory=STATIC_DIR, headers=HEADERS)
    pages = AppFiles(directory=STATIC_DIR / "pages", headers=PAGE_HEADERS)

    def page(path: str, filename: str) -> Route:
        async def endpoint(request: Request) -> Response:
            return await pages.get_response(filename, request.scope)

        return Route(path, endpoint, methods=["GET", "HEAD"], name=filename.removesuffix(".html"))

    return [
        page("/", "landing.html"),
        page("/studio", "studio.html"),
        Mount("/static", app=assets, name="static"),
    ]
