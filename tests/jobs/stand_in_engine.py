"""A stand-in for the engine with misbehaviours on demand, for supervisor tests only.

The real engine can't be made to flood stderr or segfault on cue; these tests pin how
the supervisor copes when an engine does. End-to-end tests use the real engine.

Its ``done`` event has the real one's shape, report included (``REPORT``, its part titled
as the manifest's first segment); ``bad-report`` finishes like ``ok`` with a report that
doesn't fit it.

Like the real engine, it works in a ``.podplus-*`` folder beside its output, removed when
it exits on its own and left behind when it is killed.

    python stand_in_engine.py MODE assemble MANIFEST -o OUT --json
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any


def main() -> None:
    mode = sys.argv[1]
    output = sys.argv[sys.argv.index("-o") + 1] if "-o" in sys.argv else None
    work = None
    if output and output != os.devnull:
        work = tempfile.mkdtemp(prefix=".podplus-", dir=os.path.dirname(output))
        with open(os.path.join(work, "mix.wav"), "wb") as handle:
            handle.write(b"RIFF half a mix")
    try:
        act(mode, output)
    finally:
        if work:  # reached only on the engine's own exits, not when a signal kills it
            shutil.rmtree(work, ignore_errors=True)


def act(mode: str, output: str | None) -> None:
    if mode == "child-then-hang":
        # A grandchild in our process group, standing in for ffmpeg.
        subprocess.Popen(["sleep", "300"])
        print(json.dumps({"event": "progress", "phase": "render", "fraction": 0.1}), flush=True)
        time.sleep(300)
    elif mode == "hang":
        time.sleep(300)
    elif mode == "stderr-flood":
        block = b"x" * 1023 + b"\n"
        for _ in range(5 * 1024):  # 5 MB, far past any pipe buffer
            sys.stderr.buffer.write(block)
        sys.stderr.flush()
        _finish(output)
    elif mode == "fail":
        print("ffmpeg failed: Invalid data found when processing input", file=sys.stderr)
        sys.exit(3)
    elif mode == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode in ("ok", "chatty", "bad-report"):
        steps = 150 if mode == "chatty" else 5
        for step in range(steps):
            print(json.dumps({"event": "progress", "phase": "render", "fraction": step / steps}))
            sys.stdout.flush()
            time.sleep(0.01 if mode == "chatty" else 0.05)
        _finish(output, titled(BAD_REPORT if mode == "bad-report" else REPORT))
    else:
        sys.exit(f"unknown mode {mode}")


# What the real engine reports (``AssemblyResult.as_json``), for one part.
REPORT: dict[str, Any] = {
    "limited": False,
    "encodes": 1,
    "chapters": [{"start_s": 0.0, "end_s": 1.0, "title": "take"}],
    "parts": [
        {
            "title": "take",
            "field": "segments[0]",
            "duration_s": 1.0,
            "before": {"loudness_lufs": -23.4, "peak_db": -3.2, "noise_floor_db": -61.0},
            "after": {"loudness_lufs": -16.0, "peak_db": -1.9, "noise_floor_db": -66.5},
            "gain_db": 7.4,
            "limited": True,
            "applied": ["rumble and DC below 70 Hz removed", "steady noise lowered 12 dB"],
        }
    ],
}
# A level that is no number: an engine with a bug in its meter.
BAD_REPORT = {
    **REPORT,
    "parts": [{**REPORT["parts"][0], "before": {"loudness_lufs": "loud"}}],
}


def titled(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` with its part and chapter named as the manifest's first segment."""
    try:
        with open(sys.argv[sys.argv.index("assemble") + 1]) as handle:
            title = json.load(handle)["segments"][0]["title"]
    except (OSError, ValueError, LookupError, TypeError):
        return report
    return named(report, title)


def named(report: dict[str, Any], title: str) -> dict[str, Any]:
    """``report`` with its part and chapter called ``title``."""
    return {
        **report,
        "parts": [{**report["parts"][0], "title": title}],
        "chapters": [{**report["chapters"][0], "title": title}],
    }


def _finish(output: str | None, report: dict[str, object] | None = None) -> None:
    if output:
        with open(output, "wb") as handle:
            handle.write(b"ID3 not really audio")
    done = {
        "event": "done",
        "output": output,
        "duration_s": 1.0,
        "integrated_lufs": -16.0,
        "true_peak_db": -1.5,
        "seconds": 0.1,
        **(report or {}),
    }
    print(json.dumps(done), flush=True)


if __name__ == "__main__":
    main()
