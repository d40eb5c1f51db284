"""Who this worker is: host, machine boot, and process, so records can be checked later."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
# Two reads of one process's start time can differ by a clock tick of rounding.
START_TIME_TOLERANCE_S = 0.05


def read_boot_id() -> str:
    """The kernel's id for this boot: a PID recorded in another boot means nothing now."""
    try:
        return BOOT_ID_PATH.read_text().strip()
    except OSError:
        return f"boot-{psutil.boot_time():.0f}"


@dataclass(frozen=True)
class WorkerIdentity:
    host: str
    boot_id: str
    pid: int
    started_at: float

    @classmethod
    def current(cls) -> WorkerIdentity:
        return cls(
            host=socket.gethostname(),
            boot_id=read_boot_id(),
            pid=os.getpid(),
            started_at=psutil.Process().create_time(),
        )

    @property
    def worker_id(self) -> str:
        return f"{self.host}:{self.pid}:{self.started_at:.2f}"

    @staticmethod
    def parse(worker_id: str) -> tuple[str, int, float] | None:
        """``host:pid:started_at`` back into its parts (a lease token's ``#…`` suffix ignored)."""
        parts = worker_id.partition("#")[0].rsplit(":", 2)
        if len(parts) != 3:
            return None
        try:
            return parts[0], int(parts[1]), float(parts[2])
        except ValueError:
            return None


def process_matches(pid: int, *, started_at: float, cmdline: tuple[str, ...] | None = None) -> bool:
    """True when ``pid`` is still the very process that was recorded, not a reuse of its number."""
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - started_at) > START_TIME_TOLERANCE_S:
            return False
        return cmdline is None or tuple(process.cmdline()) == cmdline
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def worker_alive(worker_id: str) -> bool:
    """Whether the worker that wrote ``worker_id`` on this host is still running."""
    parsed = WorkerIdentity.parse(worker_id)
    if parsed is None:
        return False
    _, pid, started_at = parsed
    return process_matches(pid, started_at=started_at)
