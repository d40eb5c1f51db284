"""How a command shows what it is doing, chosen once from where its output goes:

- ``bar`` (stdout is a terminal): one live line, redrawn in place, cleared when done;
- ``lines`` (piped): a plain line when something changes: a new stage, a new phase of the
  assembly, every quarter of a transfer;
- ``json`` (``--json``): one JSON object per line,
  ``{"event": "progress", "stage": "upload" | "assembly" | "download", …}``; the command's
  result is the last line, without an ``event``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal, TextIO

Mode = Literal["bar", "lines", "json"]
BAR_WIDTH = 30
# JSON lines and bar redraws at most this often, changes of stage or phase aside.
MIN_INTERVAL_S = 0.2
QUARTERS = 4


def size_text(size_bytes: float) -> str:
    """>>> size_text(1536), size_text(3 * 1024**2)
    ('1.5 KB', '3.0 MB')
    """
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f} {unit}"
    return f"{int(size_bytes)} B"


def render_bar(label: str, fraction: float, detail: str, *, width: int = BAR_WIDTH) -> str:
    """``take1.wav     [#######.......]  50%  1.2 MB of 2.4 MB``"""
    fraction = min(max(fraction, 0.0), 1.0)
    filled = int(width * fraction)
    return (
        f"{label[:24]:<24} [{'#' * filled}{'.' * (width - filled)}] "
        f"{fraction * 100:3.0f}%  {detail}"
    )


class Reporter:
    """Progress for one command, written to ``stream`` in ``mode``."""

    def __init__(
        self,
        stream: TextIO,
        *,
        mode: Mode,
        clock: Callable[[], float] = time.monotonic,
        min_interval_s: float = MIN_INTERVAL_S,
    ) -> None:
        self.stream = stream
        self.mode = mode
        self._clock = clock
        self._min_interval_s = min_interval_s
        self._last_at = float("-inf")
        self._last_key: tuple[object, ...] = ()
        self._last_quarter = -1
        self._drawn = False

    @classmethod
    def choose(cls, stream: TextIO, *, as_json: bool) -> Reporter:
        """JSON lines if asked; else a live bar on a terminal, plain lines when piped."""
        if as_json:
            return cls(stream, mode="json")
        return cls(stream, mode="bar" if stream.isatty() else "lines")

    def transfer(self, stage: str, name: str, done_bytes: int, total_bytes: int) -> None:
        """``stage`` (upload, download) of ``name`` has moved ``done_bytes`` of ``total_bytes``."""
        fraction = done_bytes / total_bytes if total_bytes else 1.0
        key = (stage, name)
        if self.mode == "json":
            self._json(
                key,
                done_bytes >= total_bytes,
                {
                    "stage": stage,
                    "name": name,
                    "done_bytes": done_bytes,
                    "total_bytes": total_bytes,
                },
            )
        elif self.mode == "bar":
            detail = f"{size_text(done_bytes)} of {size_text(total_bytes)}"
            self._draw(key, f"{stage} {name}", fraction, detail, final=done_bytes >= total_bytes)
        else:
            quarter = int(fraction * QUARTERS)
            if key != self._last_key or quarter > self._last_quarter:
                self._last_key, self._last_quarter = key, quarter
                self._line(
                    f"{stage} {name}: {fraction * 100:.0f}% "
                    f"({size_text(done_bytes)} of {size_text(total_bytes)})"
                )

    def job(self, job: dict[str, Any]) -> None:
        """The assembly job as ``GET /api/jobs/{id}`` shows it."""
        status, phase = job.get("status"), job.get("phase")
        fraction = float(job.get("progress") or 0.0)
        if status == "succeeded":
            fraction = 1.0
        key = ("assembly", job.get("id"), status, phase)
        final = status in ("succeeded", "failed", "cancelled")
        if self.mode == "json":
            self._json(
                key,
                final,
                {
                    "stage": "assembly",
                    "job_id": job.get("id"),
                    "status": status,
                    "phase": phase,
                    "progress": round(fraction, 4),
                },
            )
        elif self.mode == "bar":
            label = f"assembly {phase or status}"
            self._draw(key, label, fraction, str(status), final=final)
        else:
            quarter = int(fraction * QUARTERS)
            if key != self._last_key or quarter > self._last_quarter:
                self._last_key, self._last_quarter = key, quarter
                where = f" {phase}" if phase and status == "running" else ""
                self._line(f"job {job.get('id')}: {status}{where} {fraction * 100:.0f}%")

    def finish(self) -> None:
        """End the live line, if one is drawn, so what follows starts on a clean line."""
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False

    def _json(self, key: tuple[object, ...], final: bool, fields: dict[str, Any]) -> None:
        now = self._clock()
        if key == self._last_key and not final and now - self._last_at < self._min_interval_s:
            return
        self._last_key, self._last_at = key, now
        self.stream.write(json.dumps({"event": "progress", **fields}) + "\n")
        self.stream.flush()

    def _draw(
        self, key: tuple[object, ...], label: str, fraction: float, detail: str, *, final: bool
    ) -> None:
        now = self._clock()
        if key == self._last_key and not final and now - self._last_at < self._min_interval_s:
            return
        self._last_key, self._last_at = key, now
        self.stream.write("\r\033[K" + render_bar(label, fraction, detail))
        self.stream.flush()
        self._drawn = True

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
