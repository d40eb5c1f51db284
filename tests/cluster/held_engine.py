"""The real engine, held back on its first start so a test can act while a job runs.

    PODPLUS_ENGINE_COMMAND="python held_engine.py --starts STARTS.jsonl"
    (the supervisor adds: assemble MANIFEST -o OUT --json)

Every start appends one JSON line to ``STARTS``: its pid, the worker that started it
(``PODPLUS_WORKER_NAME``, inherited), the episode's title and the time. If the title says
``hold 8s`` and no earlier start of that title is in the file, it waits that long first
(a job "mid-assembly" for as long as a test needs, however fast the machine); then, or
at once, it becomes the real engine (``exec``: same pid, same process group, same
parent-death signal), which assembles the episode as it always does.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import time

HOLD = re.compile(r"\bhold (\d+(?:\.\d+)?)s\b")


def main() -> None:
    args = sys.argv[1:]
    starts = args[args.index("--starts") + 1]
    engine_args = args[args.index("--starts") + 2 :]
    with open(engine_args[engine_args.index("assemble") + 1]) as handle:
        title = str(json.load(handle).get("title", ""))
    record = {
        "pid": os.getpid(),
        "worker": os.environ.get("PODPLUS_WORKER_NAME", ""),
        "title": title,
        "at": time.time(),
    }
    with open(starts, "a+") as log:
        fcntl.flock(log, fcntl.LOCK_EX)  # two workers may start engines at once
        log.seek(0)
        earlier = [json.loads(line)["title"] for line in log if line.strip()]
        log.write(json.dumps(record) + "\n")
    hold = HOLD.search(title)
    if hold and title not in earlier:
        time.sleep(float(hold.group(1)))
    os.execv(sys.executable, [sys.executable, "-m", "podplus.engine", *engine_args])


if __name__ == "__main__":
    main()
