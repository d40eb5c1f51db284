"""Running ffmpeg: an argument list (never a shell), tied to our life, watched for progress.

Each ffmpeg gets PR_SET_PDEATHSIG, so if the engine dies ffmpeg dies with it; its stderr
goes to a temporary file, so megabytes of warnings can never fill a pipe and stall it.
Every ffmpeg is started from the main thread: the kernel sends the death signal when the
*thread* that forked the child exits, so a child of a worker thread would die with that
thread. (Only the quick ffprobe calls run in a thread pool, each waited for in its thread.)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Callable
from functools import partial
from typing import IO

PR_SET_PDEATHSIG = 1
STDERR_TAIL_LINES = 8
# With ``-loglevel level+…`` every line ffmpeg logs carries its level; these are the ones
# that say why it failed.
_FAILURE_LINE = re.compile(r"\[(fatal|error|panic)\] ")
_LEVEL_TAG = re.compile(r"\[(quiet|panic|fatal|error|warning|info|verbose|debug|trace)\] ")


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux only).

    With ``parent_pid``, also exit at once if that parent is already gone: it may have
    died between the fork and the prctl call, and then no signal would ever come.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def child_setup() -> Callable[[], None]:
    """A ``preexec_fn`` for children of this process (only a prctl call runs there)."""
    return partial(die_with_parent, os.getpid())


def run_briefly(args: list[str]) -> subprocess.CompletedProcess[str]:
    """A short ffprobe or ffmpeg run (probing, measuring) that dies with us if we die."""
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        preexec_fn=child_setup(),  # noqa: PLW1509 - only a prctl call runs in the child
    )


def last_line(stderr: str) -> str:
    return (stderr.strip().splitlines() or ["unreadable"])[-1]


def failure_lines(stderr: str, *, limit: int = STDERR_TAIL_LINES) -> str:
    """ffmpeg's error lines, untagged; its last lines when none is tagged as an error."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    failures = [line for line in lines if _FAILURE_LINE.search(line)]
    return "\n".join(_LEVEL_TAG.sub("", line) for line in (failures or lines)[-limit:])


class FFmpegRun:
    """One ffmpeg process. ``follow`` feeds ``out_time_s`` from ``-progress`` reports."""

    def __init__(self, args: list[str], *, stdout: int | IO[bytes] = subprocess.PIPE) -> None:
        self.args = args
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=self._stderr,
            preexec_fn=child_setup(),  # noqa: PLW1509 - only a prctl call runs in the child
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def follow(self, on_progress: Callable[[float], None]) -> None:
        """Read ``-progress pipe:1`` key=value lines until ffmpeg closes stdout."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                on_progress(max(0, int(value)) / 1e6)

    def wait(self) -> int:
        if self.process.stdout is not None:
            self.process.stdout.read()
        return self.process.wait()

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stderr_tail(self) -> str:
        return failure_lines(self.stderr_text())

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.kill()
        self._stderr.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
