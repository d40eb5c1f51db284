"""Every ffmpeg an assembly starts, in one place: started, waited for, and killed.

An assembly runs a few ffmpeg processes at a time (one per core while it prepares parts,
an encoder and its meter together). They are all tracked here so that whatever happens,
``close`` kills every one of them before the assembly's folder is removed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from podplus.engine.errors import FFmpegError
from podplus.engine.ffmpeg import FFmpegRun


class Runs:
    def __init__(self) -> None:
        self._runs: list[FFmpegRun] = []

    def start(self, args: list[str]) -> FFmpegRun:
        run = FFmpegRun(args)
        self._runs.append(run)
        return run

    @staticmethod
    def finish(run: FFmpegRun, doing: str) -> str:
        """Wait for ``run``; its stderr, or ``FFmpegError`` saying what it was doing."""
        if run.wait() != 0:
            raise FFmpegError(f"ffmpeg failed while {doing}:", stderr_tail=run.stderr_tail())
        return run.stderr_text()

    def all(
        self,
        commands: Sequence[list[str]],
        doing: Sequence[str],
        *,
        on_done: Callable[[int], None],
    ) -> list[str]:
        """Run ``commands``, as many at once as there are cores; their stderr, in order."""
        results: dict[int, str] = {}
        waiting = list(range(len(commands)))
        running: list[tuple[int, FFmpegRun]] = []
        while waiting or running:
            while waiting and len(running) < (os.cpu_count() or 2):
                index = waiting.pop(0)
                running.append((index, self.start(commands[index])))
            index, run = running.pop(0)
            results[index] = self.finish(run, doing[index])
            on_done(index)
        return [results[index] for index in range(len(commands))]

    def close(self) -> None:
        for run in self._runs:
            run.close()
