"""What the live engines on this host are doing: pid, job, memory and CPU of each tree."""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from podplus.jobs.identity import process_matches
from podplus.storage.processes import ProcessRecord


@dataclass(frozen=True)
class EngineStats:
    pid: int
    job_id: str
    worker_id: str
    started_at: float
    rss_bytes: int
    cpu_percent: float


def engine_stats(records: list[ProcessRecord], *, sample_s: float = 0.1) -> list[EngineStats]:
    """Measure each recorded engine that is still itself, with its ffmpeg children.

    Blocking (it samples CPU over ``sample_s``): call it from a thread.
    """
    trees: list[tuple[ProcessRecord, list[psutil.Process]]] = []
    for record in records:
        # Only the very process recorded: a pid reused since is someone else's business.
        if not process_matches(record.pid, started_at=record.started_at, cmdline=record.cmdline):
            continue
        try:
            leader = psutil.Process(record.pid)
            tree = [leader, *leader.children(recursive=True)]
        except psutil.Error:
            continue
        for process in tree:
            _cpu(process)  # the first call only starts psutil's measurement
        trees.append((record, tree))
    if trees:
        psutil.Process().cpu_percent(sample_s)  # sleep the sample interval
    stats = []
    for record, tree in trees:
        stats.append(
            EngineStats(
                pid=record.pid,
                job_id=record.job_id,
                worker_id=record.worker_id,
                started_at=record.started_at,
                rss_bytes=sum(_rss(process) for process in tree),
                cpu_percent=round(sum(_cpu(process) for process in tree), 1),
            )
        )
    return stats


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0


def _cpu(process: psutil.Process) -> float:
    try:
        return float(process.cpu_percent(None))
    except psutil.Error:
        return 0.0
