"""Headers every answer carries, added in one place.

- ``X-Content-Type-Options: nosniff`` on everything: a browser takes the declared type at
  its word, so an uploaded file or an error message is never run as a script or a page.
- ``Cache-Control: no-store`` on every JSON answer that doesn't set its own: JSON here is
  one user's data or a credential (the token endpoint), and no cache, shared or in the
  browser, should keep a copy. The public documents lose little by it.

The 500 answer is written outside the middleware stack (by Starlette's
``ServerErrorMiddleware``), so ``podplus.web.exceptions`` adds ``ERROR_HEADERS`` itself.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = ("X-Content-Type-Options", "nosniff")
NO_STORE = ("Cache-Control", "no-store")
ERROR_HEADERS = dict([NOSNIFF, NO_STORE])


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault(*NOSNIFF)
                content_type = headers.get("content-type", "")
                if content_type.split(";")[0].strip().lower() == "application/json":
                    headers.setdefault(*NO_STORE)
            await send(message)

        await self.app(scope, receive, send_with_headers)
