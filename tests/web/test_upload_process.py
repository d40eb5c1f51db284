"""Upload analysis in a real ``podplus serve``: a client that hangs up mid-analysis takes
its ffmpeg with it, and so does a server that is ``kill -9``-ed (nothing left under PID 1)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import LiveServer
from tests.test_end_to_end import login

pytestmark = pytest.mark.slow

BOUNDARY = "podplus-live-boundary"
PR_SET_CHILD_SUBREAPER = 36
# Let the bomb past the probe, and give its analysis all the time it wants: only the end
# of the client (or of the server) may stop it here.
LENIENT = {
    "PODPLUS_MAX_SAMPLE_RATE": "192000",
    "PODPLUS_ANALYSIS_TIMEOUT_S": "3600",
    "PODPLUS_RUN_JOBS": "false",
}


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


@contextlib.contextmanager
def upload_on_a_socket(
    server: LiveServer, auth: dict[str, str], path: Path
) -> Iterator[socket.socket]:
    """Send a whole upload and never read the answer; the socket closes on leaving."""
    body = (
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{path.name}"\r\n\r\n'
        ).encode()
        + path.read_bytes()
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    head = (
        "POST /api/media HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Authorization: {auth['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    try:
        sock.sendall(head + body)
        yield sock
    finally:
        sock.close()


def running_analysis(server: LiveServer) -> psutil.Process:
    """The server's loudness pass, once it runs as ffmpeg."""
    assert server.process is not None
    found: list[psutil.Process] = []

    def running() -> bool:
        for child in psutil.Process(server.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                if child.name() == "ffmpeg" and "ebur128" in " ".join(child.cmdline()):
                    found.append(child)
                    return True
        return False

    wait_until(running, "the server started measuring the upload")
    return found[0]


@contextlib.contextmanager
def stopped(child: psutil.Process) -> Iterator[psutil.Process]:
    """``child`` stopped (SIGSTOP), so it can't finish on its own: only a SIGKILL ends it
    now. Killed on leaving if it lives."""
    child.suspend()
    try:
        yield child
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def stored_files(server: LiveServer) -> list[Path]:
    return [p for p in (server.data_dir / "media").rglob("*") if p.is_file()]


def test_a_client_that_hangs_up_takes_its_analysis_with_it(  # type: ignore[no-untyped-def]
    live_server_factory, flac_bomb
) -> None:
    server = live_server_factory(**LENIENT).start()
    auth = login(server.base_url)
    with (
        upload_on_a_socket(server, auth, flac_bomb) as sock,
        stopped(running_analysis(server)) as child,
    ):
        assert os.getpgid(child.pid) == child.pid
        assert os.sched_getscheduler(child.pid) == os.SCHED_IDLE
        sock.close()
        # The server notices, kills the group and reaps it.
        gone, _ = psutil.wait_procs([child], timeout=60)
    assert gone == [child]

    wait_until(lambda: stored_files(server) == [], "the partial upload was removed")
    assert "event=request.client_gone path=/api/media" in server.log
    listed = httpx.get(f"{server.base_url}/api/media", headers=auth).json()["items"]
    assert listed == []
    assert "Traceback" not in server.log


def test_an_analysis_dies_with_a_killed_server(live_server_factory, flac_bomb) -> None:  # type: ignore[no-untyped-def]
    server = live_server_factory(**LENIENT).start()
    auth = login(server.base_url)
    with adopting_orphans(), upload_on_a_socket(server, auth, flac_bomb):
        child = running_analysis(server)
        server.kill_hard()
        # The server's orphans are ours now, so we can read how the analysis ended: not
        # run to its end under PID 1, but killed by its parent-death signal.
        _, status = os.waitpid(child.pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

    server.start()
    listed = httpx.get(f"{server.base_url}/api/media", headers=auth).json()["items"]
    assert listed == []


@contextlib.contextmanager
def adopting_orphans() -> Iterator[None]:
    """Make this process the child subreaper: orphans of its children become its own."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
