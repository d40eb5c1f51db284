"""Baseline (b): the same naive audio work in a ``multiprocessing.Process`` per job.

The GIL is no longer shared, but the work is still pure Python at normal priority, so
two jobs take both cores from the API on a 2-core machine. ``/me`` is podplus's own
(see ``servers.baseline``).
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

from starlette.applications import Starlette

from servers.baseline import BaselineJob, JobRequest, create_baseline_app
from servers.naive_audio import assemble
from servers.serving import serve

# spawn, not fork: forking a process that runs aiosqlite threads can copy a held lock.
CONTEXT = multiprocessing.get_context("spawn")


def run_job(request: JobRequest, progress: Synchronized[float]) -> None:
    def report(fraction: float) -> None:
        progress.value = fraction

    assemble(
        request.segment_paths,
        bed_path=request.bed_path,
        out_path=request.out_path,
        on_progress=report,
    )


def start_in_process(job_id: str, request: JobRequest) -> BaselineJob:
    progress: Synchronized[float] = CONTEXT.Value("d", 0.0, lock=False)
    process = CONTEXT.Process(
        target=run_job, args=(request, progress), name=f"job-{job_id[:8]}", daemon=True
    )
    process.start()
    return BaselineJob(
        id=job_id,
        started_at=time.time(),
        progress=lambda: float(progress.value),
        is_running=process.is_alive,
    )


def create_app(data_dir: Path) -> Starlette:
    return create_baseline_app(data_dir=data_dir, start_job=start_in_process)


if __name__ == "__main__":
    serve(create_app, description=__doc__ or "")
