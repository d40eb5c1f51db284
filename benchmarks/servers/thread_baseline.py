"""Baseline (a): the naive audio work on a ``threading.Thread`` inside the server process.

This is the design that hung: the pure-Python loop holds the GIL, so the event loop
gets the interpreter only between switch intervals (5 ms each), and every await in a
request can cost one. ``/me`` is podplus's own (see ``servers.baseline``).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from starlette.applications import Starlette

from servers.baseline import BaselineJob, JobRequest, create_baseline_app
from servers.naive_audio import assemble
from servers.serving import serve


def start_in_thread(job_id: str, request: JobRequest) -> BaselineJob:
    progress = [0.0]

    def work() -> None:
        assemble(
            request.segment_paths,
            bed_path=request.bed_path,
            out_path=request.out_path,
            on_progress=lambda fraction: progress.__setitem__(0, fraction),
        )

    # Daemon, so stopping the server doesn't wait for minutes of audio: nothing can
    # interrupt a thread, which is half of what went wrong with this design.
    thread = threading.Thread(target=work, name=f"job-{job_id[:8]}", daemon=True)
    thread.start()
    return BaselineJob(
        id=job_id,
        started_at=time.time(),
        progress=lambda: progress[0],
        is_running=thread.is_alive,
    )


def create_app(data_dir: Path) -> Starlette:
    return create_baseline_app(data_dir=data_dir, start_job=start_in_thread)


if __name__ == "__main__":
    serve(create_app, description=__doc__ or "")
