"""``PodplusClient``: the podplus HTTP API over httpx, as the command line uses it.

Every call answers the API's JSON (a ``dict``) or raises one of ``podplus.client.errors``:
``ApiRefused`` with the server's status, code and message; ``ServerUnreachable`` when no
answer came. Uploads report the bytes sent and downloads the bytes received to a
``progress(done, total)`` callback; a download is written to a partial file beside its
destination and renamed into place once complete, and an interrupted one resumes where it
stopped (``Range`` with ``If-Range``) when run again. The token goes in the
``Authorization`` header only; nothing here prints or logs it.

    with PodplusClient("http://127.0.0.1:8000", token=token) as api:
        job = api.wait(api.assemble(episode_id)["job_id"], on_update=print)
"""

from __future__ import annotations

import glob
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from podplus.client.errors import ApiRefused, JobFailed, ServerUnreachable

USER_AGENT = "podplus-cli"
TIMEOUT = httpx.Timeout(30.0)
# An upload (or a production) is answered once its files are analysed: measuring hours of
# audio takes minutes on a busy server.
UPLOAD_TIMEOUT = httpx.Timeout(30.0, read=900.0, write=900.0)
POLL_INTERVAL_S = 0.5
PAGE_LIMIT = 200
FINISHED = ("succeeded", "failed", "cancelled")
DOWNLOAD_CHUNK_BYTES = 256 * 1024

Json = dict[str, Any]
Progress = Callable[[int, int], None]


class PodplusClient:
    """One server, one token (or none, to log in)."""

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        self.server = server.rstrip("/")
        headers = {"User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.server, headers=headers, timeout=TIMEOUT, transport=transport
        )
        self._sleep = sleep
        self._poll_interval_s = poll_interval_s

    def __enter__(self) -> PodplusClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- accounts ------------------------------------------------------------------------

    def login(self, email: str, password: str) -> Json:
        """Trade an email and password for a token: ``{access_token, expires_in}``."""
        return self._json("POST", "/api/auth/token", data={"username": email, "password": password})

    def logout(self) -> None:
        """End this client's token on the server."""
        self._send("POST", "/api/auth/logout")

    def me(self) -> Json:
        return self._json("GET", "/api/users/me")

    # -- media, episodes, jobs -------------------------------------------------------------

    def upload(
        self, path: Path, *, kind: str = "content", progress: Progress | None = None
    ) -> Json:
        """``POST /api/media``: the stored file, probed and measured."""
        with _Upload([path], progress) as sending:
            return self._json(
                "POST",
                "/api/media",
                files=[("file", sending.part(path))],
                data={"kind": kind},
                timeout=UPLOAD_TIMEOUT,
            )

    def produce(
        self,
        files: Sequence[Path],
        *,
        intro: Path | None = None,
        outro: Path | None = None,
        music_bed: Path | None = None,
        show_id: str | None = None,
        title: str | None = None,
        options: str | None = None,
        progress: Progress | None = None,
    ) -> Json:
        """``POST /api/productions``: ``{episode, job}``, the assembly queued."""
        extra = {"intro": intro, "outro": outro, "music_bed": music_bed}
        sent = [("files", path) for path in files]
        sent += [(name, path) for name, path in extra.items() if path is not None]
        fields = {"show_id": show_id, "title": title, "options": options}
        with _Upload([path for _, path in sent], progress) as sending:
            return self._json(
                "POST",
                "/api/productions",
                files=[(name, sending.part(path)) for name, path in sent],
                data={name: value for name, value in fields.items() if value is not None},
                timeout=UPLOAD_TIMEOUT,
            )

    def pages(self, path: str) -> Iterator[Json]:
        """Every item of a list (``/api/episodes``, ``/api/shows``…), page after page."""
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": PAGE_LIMIT}
            if cursor:
                params["cursor"] = cursor
            page = self._json("GET", path, params=params)
            yield from page["items"]
            cursor = page.get("next")
            if not cursor:
                return

    def episode(self, episode_id: str) -> Json:
        return self._json("GET", f"/api/episodes/{episode_id}")

    def assemble(self, episode_id: str) -> Json:
        """Queue the episode's assembly: ``{job_id, status}``."""
        return self._json("POST", f"/api/episodes/{episode_id}/assemble")

    def job(self, job_id: str) -> Json:
        return self._json("GET", f"/api/jobs/{job_id}")

    def wait(self, job_id: str, *, on_update: Callable[[Json], None] | None = None) -> Json:
        """Follow the job until it ends; its final state if it succeeded, else ``JobFailed``."""
        while True:
            job = self.job(job_id)
            if on_update is not None:
                on_update(job)
            if job["status"] in FINISHED:
                if job["status"] != "succeeded":
                    raise JobFailed(job)
                return job
            self._sleep(self._poll_interval_s)

    def download(
        self, episode_id: str, destination: Path, *, progress: Progress | None = None
    ) -> int:
        """Write the episode's audio to ``destination``; its size in bytes.

        The bytes go to a partial file beside it, named for the audio's version (its
        ETag), renamed into place when complete: ``destination`` is never half a file. A
        partial file left by an interrupted download of the same version is resumed."""
        url = f"/api/episodes/{episode_id}/audio"
        head = self._send("HEAD", url)
        etag = head.headers.get("etag", "")
        total = int(head.headers.get("content-length") or 0)
        partial = _partial_path(destination, etag)
        _remove_other_partials(destination, keep=partial)
        have = partial.stat().st_size if partial.exists() else 0
        headers = {}
        if etag and 0 < have < total:
            headers = {"Range": f"bytes={have}-", "If-Range": etag}
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                if response.is_error:
                    response.read()
                    raise _refusal(response)
                resumed = response.status_code == 206
                done = have if resumed else 0
                with partial.open("ab" if resumed else "wb") as handle:
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                        handle.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total or done)
                    handle.flush()
                    os.fsync(handle.fileno())
        except httpx.TransportError as exc:
            raise _unreachable(self.server, exc) from exc
        os.replace(partial, destination)
        return done

    # -- plumbing --------------------------------------------------------------------------

    def _json(self, method: str, url: str, **kwargs: Any) -> Json:
        response = self._send(method, url, **kwargs)
        body: Json = response.json()
        return body

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise _unreachable(self.server, exc) from exc
        if response.is_error:
            raise _refusal(response)
        return response


class _Upload:
    """Files opened for one request, each counting the bytes httpx reads from it."""

    def __init__(self, paths: Sequence[Path], progress: Progress | None) -> None:
        self._paths = paths
        self._progress = progress
        self._total = sum(path.stat().st_size for path in paths)
        self._sent = 0
        self._stack = ExitStack()

    def __enter__(self) -> _Upload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def part(self, path: Path) -> tuple[str, _CountingReader]:
        handle = self._stack.enter_context(path.open("rb"))
        return path.name, _CountingReader(handle, self._count)

    def _count(self, size: int) -> None:
        self._sent += size
        if self._progress is not None:
            self._progress(min(self._sent, self._total), self._total)


class _CountingReader:
    """A file as httpx's multipart encoder reads it (length from ``fileno``, chunks from
    ``read``), calling ``on_read`` with each chunk's size."""

    def __init__(self, handle: BinaryIO, on_read: Callable[[int], None]) -> None:
        self._handle = handle
        self._on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        if data:
            self._on_read(len(data))
        return data

    def fileno(self) -> int:
        return self._handle.fileno()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()


def _refusal(response: httpx.Response) -> ApiRefused:
    """The API's ``{"error": {"code", "message"}}``, or what a proxy in between said."""
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code = f"http_{response.status_code}"
        message = f"The server answered {response.status_code} {response.reason_phrase}."
    return ApiRefused(status=response.status_code, code=code, message=message)


def _unreachable(server: str, exc: httpx.TransportError) -> ServerUnreachable:
    reason = str(exc) or type(exc).__name__
    return ServerUnreachable(f"Cannot reach the server at {server}: {reason}.")


def _partial_path(destination: Path, etag: str) -> Path:
    version = hashlib.sha256(etag.encode()).hexdigest()[:16]
    return destination.with_name(f".{destination.name}.{version}.part")


def _remove_other_partials(destination: Path, *, keep: Path) -> None:
    """Partial files of other versions of the audio can't be resumed: they go."""
    for stale in destination.parent.glob(f".{glob.escape(destination.name)}.*.part"):
        if stale != keep:
            stale.unlink(missing_ok=True)
