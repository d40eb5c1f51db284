"""Real ``podplus worker`` processes for queue and crash tests, and the rows they leave."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil
import sqlalchemy as sa
from databases import Database

from podplus.storage.schema import processes
from tests.conftest import TEST_SECRET_KEY
from tests.jobs.conftest import stand_in_command

T = TypeVar("T")


@dataclass
class WorkerProcess:
    """One ``podplus worker`` with a stand-in engine, its own scratch disk and log."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill_hard(self) -> None:
        """``kill -9``, as a lost machine or the OOM killer would."""
        self.process.kill()
        self.process.wait()

    def stop(self, *, timeout_s: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def start_worker(
    data_dir: Path, *, name: str, database_url: str, mode: str, **env: str
) -> WorkerProcess:
    """Start ``podplus worker`` on ``database_url`` with media in ``data_dir/media``."""
    log_path = data_dir / f"{name}.log"
    worker_env = {
        **os.environ,
        "PODPLUS_DATA_DIR": str(data_dir),
        "PODPLUS_DATABASE_URL": database_url,
        "PODPLUS_SECRET_KEY": TEST_SECRET_KEY,
        "PODPLUS_WORKER_NAME": name,
        "PODPLUS_SCRATCH_DIR": str(data_dir / f"scratch-{name}"),
        "PODPLUS_ENGINE_COMMAND": shlex.join(stand_in_command(mode)),
        "PODPLUS_LOG_LEVEL": "INFO",
        **env,
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "podplus", "worker"],
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return WorkerProcess(name=name, process=process, log_path=log_path)


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, what: str, timeout_s: float = 30.0
) -> T:
    """Poll ``probe`` until it returns something; the timeout only stops a hung test."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await probe()
        if value:  # not None, False, nor empty
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


async def engine_pids(database: Database, job_id: str) -> list[int]:
    """The pid of every engine started for ``job_id``, first start first."""
    rows = await database.fetch_all(
        sa.select(processes.c.pid).where(processes.c.job_id == job_id).order_by(processes.c.id)
    )
    return [int(row[0]) for row in rows]


def still_running(group: list[psutil.Process], *, timeout_s: float) -> list[psutil.Process]:
    """Wait up to ``timeout_s`` for every process in ``group`` to die; return the living.

    A killed process whose parent died with it is a zombie until init reaps it, whenever
    init gets round to it: dead is dead, so a zombie counts as gone."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [process for process in group if _alive(process)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.01)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
