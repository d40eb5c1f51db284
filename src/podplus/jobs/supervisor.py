"""The supervisor: starts engine processes, records them, watches them, and reaps them.

Each engine runs in a process group of its own (which holds it and every ffmpeg it
starts), under SCHED_IDLE so the API always comes first, with a parent-death signal
set before it executes (so it cannot outlive a server that is ``kill -9``-ed). Each
child is recorded (pid, start time, command line, host, boot) as soon as it exists,
and always awaited: nothing is left defunct.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from podplus.jobs.identity import WorkerIdentity
from podplus.storage.jobs import FailureCause
from podplus.storage.processes import ProcessStore

logger = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 16 * 1024
STDOUT_LINE_LIMIT = 1024 * 1024
EventCallback = Callable[[dict[str, Any]], Awaitable[None]]
StartCallback = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class EngineOutcome:
    """How an engine run ended. Exactly one of the flags explains a non-zero exit."""

    returncode: int
    done: dict[str, Any] | None
    stderr_tail: str
    seconds: float
    timed_out: bool = False
    cancelled: bool = False
    shut_down: bool = False

    @property
    def succeeded(self) -> bool:
        return (
            self.returncode == 0
            and self.done is not None
            and not (self.timed_out or self.cancelled or self.shut_down)
        )

    @property
    def cause(self) -> FailureCause | None:
        """Why the run failed, or None when it didn't (it succeeded, or was cancelled)."""
        if self.succeeded or self.cancelled:
            return None
        if self.shut_down:
            return FailureCause.INTERRUPTED
        if self.timed_out:
            return FailureCause.TIMEOUT
        if self.returncode < 0:
            return FailureCause.CRASHED
        return FailureCause.ENGINE_ERROR

    @property
    def error(self) -> str:
        """A one-paragraph reason for a failed run, for the job's ``error`` field."""
        if self.shut_down:
            return "interrupted"
        if self.timed_out:
            return "timeout"
        if self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            return f"engine crashed (killed by {name})"
        if self.returncode == 0:
            return "engine exited without reporting a result"
        lines = [line for line in self.stderr_tail.strip().splitlines() if line.strip()]
        message = "\n".join(lines[-5:]) or "no message"
        return f"engine failed (exit {self.returncode}): {message}"[:2000]


@dataclass
class ChildProcess:
    """One live engine process, as the admin endpoint and metrics see it."""

    job_id: str
    pid: int
    started_at: float
    process: asyncio.subprocess.Process
    cancelled: bool = False
    shut_down: bool = False
    info: dict[str, str] = field(default_factory=dict)


def launcher_prefix(nice: int, *, idle: bool) -> list[str]:
    """Commands that exec into the engine: set the parent-death signal, then lower priority.

    With ``idle``, the engine (and every ffmpeg it starts) runs under SCHED_IDLE: it gets
    the CPU only when the API doesn't want it, and a waking API thread preempts it at
    once. That, more than any nice value, is what keeps requests at milliseconds while
    assemblies run. Its disk I/O goes to the lowest best-effort class as well.

    Each of these commands replaces itself with the next program, so the pid we record is
    the engine's own, and no Python code runs between fork and exec.
    """
    prefix: list[str] = []
    for tool, args in (
        ("setpriv", ["--pdeathsig", "KILL", "--"]),
        ("ionice", ["-c", "2", "-n", "7", "--"]),
        ("chrt", ["--idle", "0"] if idle else None),  # chrt takes no "--"
        ("nice", ["-n", str(nice), "--"] if nice > 0 else None),
    ):
        path = shutil.which(tool)
        if path and args is not None:
            prefix += [path, *args]
    return prefix


class Supervisor:
    def __init__(
        self,
        *,
        store: ProcessStore,
        identity: WorkerIdentity,
        nice: int,
        idle_priority: bool = True,
        kill_grace_s: float = 1.0,
    ) -> None:
        self._store = store
        self._identity = identity
        self._launcher = launcher_prefix(nice, idle=idle_priority)
        self._kill_grace_s = kill_grace_s
        self._children: dict[str, ChildProcess] = {}
        # Cancels that arrived before their engine existed, and whether we are shutting
        # down: a run that starts after either must end at once, not run for an hour.
        self._cancel_before_start: set[str] = set()
        self._closing = False

    @property
    def children(self) -> list[ChildProcess]:
        return list(self._children.values())

    async def run(
        self,
        *,
        job_id: str,
        argv: Sequence[str],
        timeout_s: float,
        on_event: EventCallback,
        on_start: StartCallback,
        extra_info: dict[str, str] | None = None,
    ) -> EngineOutcome:
        """Run one engine to the end, whatever that end is, and reap it."""
        started = time.monotonic()
        if self._closing or job_id in self._cancel_before_start:
            self._cancel_before_start.discard(job_id)
            return EngineOutcome(
                returncode=-signal.SIGTERM,
                done=None,
                stderr_tail="",
                seconds=0.0,
                cancelled=not self._closing,
                shut_down=self._closing,
            )
        process = await asyncio.create_subprocess_exec(
            *self._launcher,
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # A process group of its own (so one killpg reaches every ffmpeg) but not a
            # session of its own: with the kernel's autogroup scheduling, a new session is
            # a new CPU group that gets an equal share with the whole API server whatever
            # its priority. Measured with two assemblies: new session p99 207 ms; same
            # session and SCHED_IDLE, 13.6 ms.
            process_group=0,
            limit=STDOUT_LINE_LIMIT,
        )
        child = ChildProcess(
            job_id=job_id,
            pid=process.pid,
            started_at=_start_time(process.pid),
            process=process,
            info=dict(extra_info or {}),
        )
        self._children[job_id] = child
        if self._closing or job_id in self._cancel_before_start:
            # Asked to stop while it was being started.
            self._cancel_before_start.discard(job_id)
            child.shut_down, child.cancelled = self._closing, not self._closing
            await self._terminate(child)
        record_id: int | None = None
        try:
            record_id = await self._store.add(
                job_id=job_id,
                pid=process.pid,
                started_at=child.started_at,
                cmdline=list(argv),
                host=self._identity.host,
                boot_id=self._identity.boot_id,
                worker_id=self._identity.worker_id,
            )
            await on_start(process.pid)
            return await self._watch(child, timeout_s=timeout_s, on_event=on_event, started=started)
        finally:
            # Whatever happened above (including our own cancellation), the group dies and
            # the child is reaped before we forget it.
            await asyncio.shield(self._reap(child))
            self._children.pop(job_id, None)
            if record_id is not None:
                await asyncio.shield(self._store.ended(record_id))

    async def cancel(self, job_id: str) -> bool:
        """Kill a job's engine group (TERM, then KILL after the grace period)."""
        child = self._children.get(job_id)
        if child is None:
            self._cancel_before_start.add(job_id)
            return False
        child.cancelled = True
        await self._terminate(child)
        return True

    async def shutdown(self) -> None:
        """Terminate every child; their runs end with ``shut_down`` set."""
        self._closing = True
        children = list(self._children.values())
        for child in children:
            child.shut_down = True
        await asyncio.gather(*(self._terminate(child) for child in children))

    async def _watch(
        self, child: ChildProcess, *, timeout_s: float, on_event: EventCallback, started: float
    ) -> EngineOutcome:
        process = child.process
        assert process.stdout is not None and process.stderr is not None
        done: dict[str, Any] = {}
        stderr_tail: deque[bytes] = deque()
        readers = [
            asyncio.create_task(_read_events(process.stdout, on_event, done)),
            asyncio.create_task(_read_tail(process.stderr, stderr_tail)),
        ]
        timed_out = False
        try:
            await asyncio.wait_for(process.wait(), timeout=timeout_s)
        except TimeoutError:
            timed_out = True
            logger.warning("event=supervisor.timeout job_id=%s pid=%s", child.job_id, child.pid)
            await self._terminate(child)
        # Pipes close once every process holding them is gone; the group kill makes sure.
        await self._kill_group(child.pid, signal.SIGKILL)
        await asyncio.gather(*readers, return_exceptions=True)
        returncode = process.returncode if process.returncode is not None else -9
        return EngineOutcome(
            returncode=returncode,
            done=done.get("event"),
            stderr_tail=b"".join(stderr_tail).decode(errors="replace"),
            seconds=time.monotonic() - started,
            timed_out=timed_out,
            cancelled=child.cancelled,
            shut_down=child.shut_down,
        )

    async def _terminate(self, child: ChildProcess) -> None:
        # SIGCONT first: a stopped engine can't act on TERM (KILL needs no help).
        await self._kill_group(child.pid, signal.SIGTERM)
        await self._kill_group(child.pid, signal.SIGCONT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.process.wait(), timeout=self._kill_grace_s)
        await self._kill_group(child.pid, signal.SIGKILL)

    async def _reap(self, child: ChildProcess) -> None:
        if child.process.returncode is None:
            await self._kill_group(child.pid, signal.SIGKILL)
        await child.process.wait()

    @staticmethod
    async def _kill_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


async def _read_events(
    stream: asyncio.StreamReader, on_event: EventCallback, done: dict[str, Any]
) -> None:
    """Read the engine's JSON-lines protocol; anything else on stdout is ignored."""
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # a line over the stream limit: not ours, skip it
            continue
        if not line:
            return
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(event, dict):
            continue
        if event.get("event") == "done":
            done["event"] = event
        try:
            await on_event(event)
        except Exception:  # a failed progress write must not stop us reading
            logger.exception("event=supervisor.event_callback_failed")


async def _read_tail(stream: asyncio.StreamReader, tail: deque[bytes]) -> None:
    """Drain stderr continuously (so a chatty engine never blocks) keeping only its end."""
    size = 0
    while chunk := await stream.read(65536):
        tail.append(chunk)
        size += len(chunk)
        while size - len(tail[0]) >= STDERR_TAIL_BYTES:
            size -= len(tail.popleft())


def _start_time(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        # Already gone (it failed at once); the record still marks the attempt.
        return time.time()
