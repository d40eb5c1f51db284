"""Progress: one shared state, written by the passes, reported by a heartbeat thread.

The heartbeat makes "at least once a second" true even while ffmpeg is quiet (opening
files, writing a header): the supervisor reads silence as a possible hang.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

HEARTBEAT_S = 0.5

# Share of the whole job each phase stands for, in the order they run, from measured costs
# (a 10-minute episode, mp3 128k): preparing the parts and encoding dominate. "level" fits
# the limiters of peaky parts; "limit", the episode's own, when it needs one.
PHASE_WEIGHTS = {
    "analyse": 0.3,
    "level": 0.03,
    "render": 0.27,
    "limit": 0.03,
    "encode": 0.3,
    "measure": 0.07,
}


@dataclass
class _State:
    phase: str = "starting"
    phase_done_s: float = 0.0
    phase_total_s: float = 1.0
    media_done_s: float = 0.0  # media seconds handled so far in all phases, for the speed
    started: float = 0.0


class Progress:
    def __init__(self, *, stream: TextIO | None = None, as_json: bool) -> None:
        self._stream = stream or sys.stdout
        self._json = as_json
        self._state = _State(started=time.monotonic())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="progress", daemon=True)
        self._phases = list(PHASE_WEIGHTS)
        self._media_before_phase = 0.0

    def start(self) -> None:
        self._thread.start()

    def phase(self, name: str, *, total_s: float) -> None:
        with self._lock:
            self._media_before_phase = self._state.media_done_s
            self._state.phase = name
            self._state.phase_done_s = 0.0
            self._state.phase_total_s = max(total_s, 1e-6)
        self._emit()

    def advance(self, done_s: float) -> None:
        with self._lock:
            done_s = min(done_s, self._state.phase_total_s)
            self._state.phase_done_s = max(self._state.phase_done_s, done_s)
            self._state.media_done_s = self._media_before_phase + self._state.phase_done_s

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            state = self._state
            fraction = 0.0
            for name in self._phases:
                if name == state.phase:
                    fraction += PHASE_WEIGHTS[name] * state.phase_done_s / state.phase_total_s
                    break
                fraction += PHASE_WEIGHTS[name]
            elapsed = max(time.monotonic() - state.started, 1e-6)
            return {
                "event": "progress",
                "phase": state.phase,
                "fraction": round(min(fraction, 0.999), 4) if state.phase != "starting" else 0.0,
                "speed": round(state.media_done_s / elapsed, 1),
                "elapsed_s": round(elapsed, 1),
            }

    def finish(self, done: dict[str, Any]) -> None:
        self.stop()
        if self._json:
            self._write(json.dumps({"event": "done", **done}))
        else:
            self._stream.write("\r\033[K")
            self._stream.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self._emit()

    def _emit(self) -> None:
        snapshot = self.snapshot()
        if self._json:
            self._write(json.dumps(snapshot))
        else:
            self._stream.write("\r\033[K" + render_bar(snapshot))
            self._stream.flush()

    def _write(self, line: str) -> None:
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


def render_bar(snapshot: dict[str, Any], *, width: int = 30) -> str:
    """``render  [#########.........]  31%  52.1×  ETA 0:12`` for a terminal."""
    fraction = float(snapshot["fraction"])
    filled = int(width * fraction)
    elapsed = float(snapshot["elapsed_s"])
    eta = "--:--"
    if fraction > 0.02:
        remaining = elapsed * (1 - fraction) / fraction
        eta = f"{int(remaining // 60)}:{int(remaining % 60):02d}"
    return (
        f"{snapshot['phase']:<8} [{'#' * filled}{'.' * (width - filled)}] "
        f"{fraction * 100:3.0f}%  {snapshot['speed']:.1f}×  ETA {eta}"
    )
