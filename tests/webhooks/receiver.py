"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 in a thread of its own.

It answers each request with the next status of its script (then ``default``), records
every request it got (path, headers, body), and can hang: a request then waits, unanswered,
until the test releases it.

    with Receiver(script=[500, 500]) as receiver:        # then 200
        ... receiver.url ... receiver.requests ...
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> dict[str, object]:
        """The JSON body, once its signature has been checked by ``standardwebhooks``."""
        payload = Webhook(secret).verify(self.body, self.headers)
        assert isinstance(payload, dict)
        return payload


class Receiver:
    def __init__(
        self,
        *,
        script: Iterable[int] = (),
        default: int = 200,
        hang: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._script = list(script)
        self._default = default
        self._hang = hang
        self._headers = headers or {}
        self._lock = threading.Lock()
        self.requests: list[Received] = []
        # Set by a hanging receiver when a request has arrived; set by the test to answer.
        self.arrived = threading.Event()
        self.released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def _next_status(self) -> int:
        with self._lock:
            return self._script.pop(0) if self._script else self._default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                if receiver._hang:
                    receiver.arrived.set()
                    receiver.released.wait(timeout=120)
                status = receiver._next_status()
                self.send_response(status)
                for name, value in receiver._headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
