"""Waiting for the machine to be quiet before measuring, and saying how quiet it was.

The development machine is shared: a test suite with a browser beside a benchmark
doubles its p99. Measuring anyway is sometimes all one can do, so this waits a bounded
time and then reports the background load next to the figures rather than hiding it.
"""

from __future__ import annotations

import os
import time

import psutil

QUIET_BUSY_PERCENT = 15.0  # of the whole machine, everything counted


def machine_busy_percent(interval_s: float = 1.0) -> float:
    return float(psutil.cpu_percent(interval=interval_s))


def wait_for_quiet(
    *, busy_percent: float = QUIET_BUSY_PERCENT, needed_s: int = 3, timeout_s: float = 90.0
) -> float:
    """Wait until the machine has been below ``busy_percent`` for ``needed_s`` seconds in a
    row, or ``timeout_s`` has passed; return the last second's figure."""
    deadline = time.monotonic() + timeout_s
    quiet_s = 0
    busy = machine_busy_percent()
    while time.monotonic() < deadline:
        if busy < busy_percent:
            quiet_s += 1
            if quiet_s >= needed_s:
                return busy
        else:
            quiet_s = 0
        busy = machine_busy_percent()
    print(
        f"warning: the machine is still {busy:.0f}% busy (load average "
        f"{os.getloadavg()[0]:.1f}); measuring anyway, figures will be noisy",
        flush=True,
    )
    return busy
