"""Running ffmpeg: an argument list (never a shell), tied to our life, watched for progress.

Each ffmpeg gets PR_SET_PDEATHSIG, so if the engine dies ffmpeg dies with it; its stderr
goes to a temporary file, so megabytes of warnings can never fill a pipe and stall it.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import tempfile
from collections.abc import Callable
from typing import IO

PR_SET_PDEATHSIG = 1
STDERR_TAIL_LINES = 8


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class FFmpegRun:
    """One ffmpeg process. ``on_progress`` gets ``out_time_s`` from ``-progress`` reports."""

    def __init__(self, args: list[str], *, stdout: int | IO[bytes] = subprocess.PIPE) -> None:
        self.args = args
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=self._stderr,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl call runs in the child
        )

    def follow(self, on_progress: Callable[[float], None]) -> None:
        """Read ``-progress pipe:1`` key=value lines until ffmpeg closes stdout."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                on_progress(max(0, int(value)) / 1e6)

    def wait(self) -> int:
        return self.process.wait()

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stderr_tail(self) -> str:
        lines = [line for line in self.stderr_text().splitlines() if line.strip()]
        return "\n".join(lines[-STDERR_TAIL_LINES:])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.kill()
        self._stderr.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
