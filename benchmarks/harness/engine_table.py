"""Item 4 of ``make bench``: the engine table, from ``engine_bench.py`` when it exists.

That script and ``results/engine.md`` belong to the engine's benchmark; this module only
runs the one and reads the other, so the two stay independent.
"""

from __future__ import annotations

import subprocess
import sys

from harness.processes import BENCH_DIR

ENGINE_BENCH = BENCH_DIR / "engine_bench.py"
ENGINE_RESULTS = BENCH_DIR / "results" / "engine.md"


def engine_section(*, run: bool, timeout_s: float = 1800.0) -> str:
    """Markdown for the engine table: rerun it if asked and possible, else the latest file."""
    note = ""
    if run and ENGINE_BENCH.exists():
        completed = subprocess.run(
            [sys.executable, str(ENGINE_BENCH)],
            cwd=BENCH_DIR.parent,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if completed.returncode != 0:
            tail = "\n".join(completed.stderr.splitlines()[-5:])
            note = (
                f"`engine_bench.py` exited {completed.returncode} this run:\n\n```\n{tail}\n```\n\n"
            )
    elif run:
        note = "`benchmarks/engine_bench.py` does not exist yet, so it was not run.\n\n"
    if ENGINE_RESULTS.exists():
        return note + "Latest `benchmarks/results/engine.md`:\n\n" + ENGINE_RESULTS.read_text()
    return note + "No engine results yet (`benchmarks/results/engine.md` is missing).\n"
